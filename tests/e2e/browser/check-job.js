// Loads the HTML page of a job (memline plot DIR -o job.html) in Debian's headless Chromium
// (playwright-core) and prints what tests/e2e/test_plot_job.py asserts on, as one JSON object:
// console and page errors, the requests made, the ranks the picker lists (as the page shows
// them: name, node, peak, peak time, ending) and the ranks' chart's lines as the page opens;
// then, after ticking the rank named TICK in the list (a click on its checkbox), the chart's
// lines again; the list filtered by FILTER (typed into the filter box); the list sorted by
// peak, ascending (a click on its header); the charts' canvases drawn; and window.x, which a
// hostile rank name would set, and whether the page holds an element a name could inject.
// Usage: node check-job.js PAGE.html PROFILE_DIR TICK FILTER
// Exits 2 when Chromium cannot be started (the message on stderr), 1 on any other failure.
"use strict";

const { inkedPixels, runCheck } = require("./launch");

async function state(page) {
	return page.evaluate(() => ({
		rows: window.memlineJob.rows(),
		series: window.memlineJob.rankSeries(),
		count: document.getElementById("rank-count").textContent,
		seriesCount: window.memlineJob.charts().ranks ?
			window.memlineJob.charts().ranks.series.length : 0,
	}));
}

const USAGE = "node check-job.js PAGE.html PROFILE_DIR TICK FILTER";

runCheck(USAGE, 4, async (page, result, [tick, filter]) => {
	await page.waitForFunction(() => window.memlineJob, null, { timeout: 10000 });
	result.title = await page.evaluate(() => document.getElementById("title").textContent);
	result.opened = await state(page);
	// tick the rank named `tick` (exactly) with the mouse, as a person would
	const exact = new RegExp("^" + tick.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$");
	const row = page.locator("#rank-rows tr").filter({
		has: page.locator("td:nth-child(2)", { hasText: exact }) }).first();
	result.tickFound = await row.count() > 0;
	if (result.tickFound) {
		await row.locator("input[type=checkbox]").click();
		result.ticked = await state(page);
	}
	await page.fill("#rank-filter", filter);
	result.filtered = await state(page);
	await page.fill("#rank-filter", "");
	await page.click("#sort-peak");
	result.ascending = await state(page);
	result.canvasDrawn = await inkedPixels(page, "#job-chart canvas, #ranks-chart canvas");
	result.windowX = await page.evaluate(() => window.x === undefined ? null : window.x);
	result.injected = await page.evaluate(() =>
		document.querySelectorAll("main img, main script, main b").length);
	result.hostileText = await page.evaluate(() => document.querySelector("#rank-rows")
		.textContent);
});
