// Loads a memline HTML report of a log with threads (format 3) in Debian's headless Chromium
// (playwright-core) and prints what tests/e2e/test_html.py asserts on, as one JSON object:
// console and page errors, the requests made, the thread view as the page opens it (its
// title, picker, lines and peaks: window.memlineReport.threadView()), what the tooltip and the
// chart's legend say with the mouse on a line at a time the test names, whether the canvas
// drew each peak's dot where the page says and where each line is at its peak's time; the
// same for each other process, picked in the picker; the view after the theme switch; and
// window.x (which a hostile thread name would set) and the markup the section holds.
// Usage: node check-threads.js REPORT.html PROFILE_DIR HOVER_JSON
//   HOVER_JSON: [[pid, line name, time], ...]: for each process, the line to hover at that time
// Exits 2 when Chromium cannot be started (the message on stderr), 1 on any other failure.
"use strict";

const { runCheck } = require("./launch");

async function view(page) {
	return page.evaluate(() => window.memlineReport.threadView());
}

// The tooltip and the legend's values with the mouse on line `name` at time t.
async function hover(page, name, t) {
	const p = await page.evaluate(([n, tt]) => window.memlineReport.threadPoint(n, tt), [name, t]);
	if (!p)
		return { error: "no point of " + name + " at " + t };
	await page.mouse.move(p.x, p.y);
	await page.waitForFunction(() => !document.getElementById("threads-tip").hidden, null,
		{ timeout: 5000 }).catch(() => {});
	return page.evaluate(() => {
		const tip = document.getElementById("threads-tip");
		const legend = Array.from(document.querySelectorAll("#threads-chart .u-legend .u-series"))
			.map((tr) => [tr.querySelector(".u-label") ? tr.querySelector(".u-label").textContent : "",
				tr.querySelector(".u-value") ? tr.querySelector(".u-value").textContent : ""]);
		return {
			hidden: tip.hidden,
			label: Array.from(tip.querySelectorAll(".tip-label")).map((e) => e.textContent),
			where: Array.from(tip.querySelectorAll(".tip-where")).map((e) => e.textContent),
			legend,
		};
	});
}

// For each point (page pixels), how many of the 3x3 canvas pixels around it are opaque: a
// dot drawn there. One read of the canvas (repeated reads warn in the console).
async function inkAt(page, points) {
	return page.evaluate((pts) => {
		const c = document.querySelector("#threads-chart canvas");
		const r = c.getBoundingClientRect(), dpr = c.width / r.width;
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		return pts.map(([px, py]) => {
			const cx = Math.round((px - r.left) * dpr), cy = Math.round((py - r.top) * dpr);
			let inked = 0;
			for (let y = cy - 1; y <= cy + 1; y++)
				for (let x = cx - 1; x <= cx + 1; x++)
					if (d[(y * c.width + x) * 4 + 3] > 200)
						inked++;
			return inked;
		});
	}, points);
}

const USAGE = "node check-threads.js REPORT.html PROFILE_DIR HOVER_JSON";

runCheck(USAGE, 3, async (page, result, [hoverJson]) => {
	const hovers = JSON.parse(hoverJson);
	result.procs = [];
	await page.waitForFunction(() => window.memlineReport !== undefined, null,
		{ timeout: 20000 });
	const first = await view(page);
	result.first = first;
	const n = first.options.length || (first.shown ? 1 : 0);
	for (let k = 0; k < n; k++) {
		if (k > 0 || first.picker)
			await page.selectOption("#threads-proc", String(k));
		const v = await view(page);
		const pid = v.choice ? v.choice[1] : null;
		const h = hovers.find((x) => x[0] === pid);
		const entry = { view: v, hover: h ? await hover(page, h[1], h[2]) : null };
		entry.dots = await inkAt(page, v.peaks.map((p) => [p.x, p.y]));
		// each line where its peak is: the peak's dot is on it, or above (between samples)
		entry.lines = await page.evaluate((ps) => ps.map((p) =>
			window.memlineReport.threadPoint(p.name, p.t)), v.peaks);
		result.procs.push(entry);
	}
	if (process.env.MEMLINE_SCREENSHOT)
		await page.screenshot({ path: process.env.MEMLINE_SCREENSHOT, fullPage: true });
	await page.click("#theme");
	result.afterTheme = await view(page);
	result.x = await page.evaluate(() => window.x === undefined ? null : window.x);
	result.markup = await page.evaluate(() =>
		document.getElementById("threads").querySelectorAll("img, script, b").length);
});
