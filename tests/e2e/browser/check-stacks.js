// Loads a memline HTML report of a log with stack captures (--stacks) in Debian's headless
// Chromium (playwright-core) and prints what tests/e2e/test_html.py asserts on, as one JSON
// object: console and page errors, the requests made, whether the stacks panel is hidden
// before any click, then for each capture marker, clicked with the mouse, the panel's title,
// its headings, its frames and its error lines; the panel after its close button; and
// window.x (which hostile text would set).
// Usage: node check-stacks.js REPORT.html PROFILE_DIR
// Exits 2 when Chromium cannot be started (the message on stderr), 1 on any other failure.
"use strict";

const { runCheck } = require("./launch");

async function panel(page) {
	return page.evaluate(() => {
		const p = document.getElementById("stacks");
		const texts = (sel) => Array.from(p.querySelectorAll(sel)).map((e) => e.textContent);
		return {
			hidden: p.hidden || getComputedStyle(p).display === "none",
			title: document.getElementById("stacks-title").textContent,
			headings: texts("h3"),
			frames: Array.from(p.querySelectorAll("ol")).map((ol) =>
				Array.from(ol.children).map((li) => li.textContent)),
			errors: texts(".stack-error"),
			what: texts("p.muted"),
			markup: p.querySelectorAll("img, script, b").length,
			open: window.memlineReport.openCapture(),
		};
	});
}

runCheck("node check-stacks.js REPORT.html PROFILE_DIR", 2, async (page, result) => {
	result.captures = [];
	await page.waitForFunction(() => window.memlineReport !== undefined, null,
		{ timeout: 20000 });
	result.before = await panel(page);
	const n = await page.evaluate(() =>
		JSON.parse(document.getElementById("memline-data").textContent).runs[0].stacks.length);
	for (let i = 0; i < n; i++) {
		const p = await page.evaluate((ii) => window.memlineReport.capturePoint(0, ii), i);
		await page.mouse.click(p.x, p.y);
		result.captures.push({ index: i, ...(await panel(page)) });
	}
	if (process.env.MEMLINE_SCREENSHOT)
		await page.screenshot({ path: process.env.MEMLINE_SCREENSHOT, fullPage: true });
	await page.click("#stacks-close");
	result.after = await panel(page);
	result.x = await page.evaluate(() => window.x === undefined ? null : window.x);
});
