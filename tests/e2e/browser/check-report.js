// Loads a memline HTML report in Debian's headless Chromium (playwright-core, executablePath
// /usr/bin/chromium) and prints what tests/e2e/test_html.py asserts on, as one JSON object:
// console errors and page errors, every request the page made, whether the chart's canvas has
// non-blank pixels, what the event tooltip says when the mouse is on each event marker, the
// events table's labels, the chart's series (label, width, colour) and the summary's terms, the
// span names drawn on the chart (their boxes), the phases table,
// the time axis's labels over several ranges, the event labels the toggle draws, and window.x
// (which a hostile label would set).
// Usage: node check-report.js REPORT.html PROFILE_DIR
// Exits 2 when Chromium cannot be started (the message on stderr), 1 on any other failure.
"use strict";

const { runCheck } = require("./launch");

runCheck("node check-report.js REPORT.html PROFILE_DIR", 2, async (page, result) => {
	result.events = [];
	await page.waitForFunction(() => window.memlineReport !== undefined, null, { timeout: 20000 });
	result.title = await page.title();
	// A canvas pixel that differs from the first one: the chart is not blank.
	result.canvasDrawn = await page.evaluate(() => {
		const c = document.querySelector("#chart canvas");
		if (!c || !c.width || !c.height)
			return false;
		const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let inked = 0;
		for (let i = 3; i < px.length; i += 4)
			if (px[i] !== 0)
				inked++;
		return inked > 500;
	});
	const counts = await page.evaluate(() => {
		const data = JSON.parse(document.getElementById("memline-data").textContent);
		return data.runs.map((r) => r.events.length);
	});
	for (let r = 0; r < counts.length; r++) {
		for (let i = 0; i < Math.min(counts[r], 20); i++) {
			const p = await page.evaluate(([rr, ii]) => window.memlineReport.eventPoint(rr, ii),
				[r, i]);
			await page.mouse.move(p.x, p.y);
			// The chart moves its cursor on the next animation frame: wait for the tip.
			await page.waitForFunction(() => !document.getElementById("tip").hidden, null,
				{ timeout: 3000 }).catch(() => {});
			const tip = await page.evaluate(() => {
				const t = document.getElementById("tip");
				return { hidden: t.hidden || getComputedStyle(t).display === "none",
					text: t.textContent };
			});
			result.events.push({ run: r, index: i, x: p.x, y: p.y, ...tip });
		}
	}
	if (process.env.MEMLINE_SCREENSHOT)
		await page.screenshot({ path: process.env.MEMLINE_SCREENSHOT, fullPage: true });
	await page.mouse.move(5, 5);
	result.tableLabels = await page.evaluate(() =>
		Array.from(document.querySelectorAll("#events tbody tr")).map((tr) =>
			tr.children[tr.children.length - 3].textContent));
	result.spanLabels = await page.evaluate(() => window.memlineReport.spanLabels());
	result.series = await page.evaluate(() => window.memlineReport.chart().series.map((s) =>
		({ label: s.label, width: s.width === undefined ? null : s.width,
			stroke: typeof s.stroke === "function" ? null : s.stroke })));
	// The summary's terms and what each says (the first run's, or each run's in turn).
	result.summary = await page.evaluate(() =>
		Array.from(document.querySelectorAll("#summary dt")).map((dt) =>
			[dt.textContent, dt.nextElementSibling ? dt.nextElementSibling.textContent : ""]));
	// The time axis's labels over ranges whose steps are 0.25 s, 2.5 ms, 0.5 min...
	result.ticks = [];
	for (const [min, max] of [[0, 5], [0, 2.5], [0, 1.3], [0.1, 0.35], [0, 0.013], [0, 30],
		[0, 75], [0, 400], [0, 7000]]) {
		result.ticks.push(await page.evaluate(async ([lo, hi]) => {
			window.memlineReport.chart().setScale("x", { min: lo, max: hi });
			await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
			return { min: lo, max: hi, ...window.memlineReport.timeTicks() };
		}, [min, max]));
	}
	await page.evaluate(() => {
		const u = window.memlineReport.chart();
		u.setScale("x", { min: 0, max: Math.max(...u.data[0]) });
	});
	result.phaseHead = await page.evaluate(() =>
		Array.from(document.querySelectorAll("#phases thead th")).map((th) => th.textContent));
	result.phaseRows = await page.evaluate(() =>
		Array.from(document.querySelectorAll("#phases tbody tr")).map((tr) =>
			Array.from(tr.children).map((td) => td.textContent)));
	// The "Event labels" toggle: the labels it draws on the chart (their text and boxes),
	// what it says of those left out, and nothing once it is off again.
	const labels = () => page.evaluate(() => ({
		shown: Array.from(document.querySelectorAll("#chart .ev-label")).map((e) => {
			const b = e.getBoundingClientRect();
			return { text: e.textContent, left: b.left, top: b.top, right: b.right,
				bottom: b.bottom, elements: e.children.length };
		}),
		more: Array.from(document.querySelectorAll("#chart .ev-more")).map((e) =>
			e.textContent),
	}));
	await page.click("#event-labels");
	result.eventLabels = { on: await labels() };
	await page.click("#event-labels");
	result.eventLabels.off = await labels();
	result.nearOutput = await page.evaluate(() =>
		Array.from(document.querySelectorAll("#near-lines .out-text")).map((e) => e.textContent));
	// Dark theme switch and a zoom must not break anything either.
	await page.click("#theme");
	result.theme = await page.evaluate(() => document.documentElement.dataset.theme);
	const box = await page.locator("#chart .u-over").boundingBox();
	await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
	await page.mouse.wheel(0, -300);
	result.zoomed = await page.evaluate(() => {
		const u = window.memlineReport.chart();
		return u.scales.x.max - u.scales.x.min;
	});
	result.windowX = await page.evaluate(() => typeof window.x === "undefined" ? null :
		String(window.x));
	result.images = await page.evaluate(() => document.images.length);
	result.scripts = await page.evaluate(() => document.scripts.length);
});
