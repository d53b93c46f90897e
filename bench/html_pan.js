// How a large HTML report behaves in Debian's headless Chromium (make bench, row "HTML
// report"): the time from navigation to the chart drawn, then 40 pans and 20 zooms of the time
// axis, each timed from the scale change to the next animation frame (what a person dragging
// the chart waits for). Prints one JSON object: load_ms, pan_ms (median, max), zoom_ms
// (median, max), points (the points the page draws). Usage: node html_pan.js REPORT.html PROFILE
"use strict";

const path = require("path");
const { launch } = require(path.join(__dirname, "..", "tests", "e2e", "browser", "launch"));

function stats(xs) {
	const s = xs.slice().sort((a, b) => a - b);
	return { median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
}

async function main() {
	const [file, profile] = process.argv.slice(2);
	const context = await launch(profile);
	try {
		const page = context.pages()[0] || await context.newPage();
		const t0 = Date.now();
		await page.goto("file://" + path.resolve(file), { waitUntil: "load" });
		await page.waitForFunction(() => window.memlineReport !== undefined, null,
			{ timeout: 60000 });
		// The chart is drawn once the next frame has painted it.
		await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
		const load = Date.now() - t0;
		const timing = await page.evaluate(async () => {
			const u = window.memlineReport.chart();
			const points = u.data.slice(1).reduce((n, ys) => n + ys.filter((v) => v != null).length, 0);
			const lo = u.scales.x.min, hi = u.scales.x.max, span = hi - lo;
			const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
			async function timed(min, max) {
				const t = performance.now();
				u.setScale("x", { min, max });
				await frame();
				return performance.now() - t;
			}
			const pan = [], zoom = [];
			for (let i = 0; i < 40; i++) {
				const w = span / 4, at = lo + (span - w) * (i / 39);
				pan.push(await timed(at, at + w));
			}
			for (let i = 0; i < 20; i++) {
				const w = span / Math.pow(1.5, i % 10);
				zoom.push(await timed(lo + (span - w) / 2, lo + (span + w) / 2));
			}
			return { pan, zoom, points };
		});
		process.stdout.write(JSON.stringify({ load_ms: load, pan_ms: stats(timing.pan),
			zoom_ms: stats(timing.zoom), points: timing.points }) + "\n");
	} finally {
		await context.close();
	}
}

main().catch((e) => {
	process.stderr.write(String(e && e.stack || e) + "\n");
	process.exit(1);
});
