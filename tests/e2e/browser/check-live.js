// Loads the live page memline serves (URL) in headless Chromium and prints, as one JSON
// object, what tests/e2e/test_serve.py asserts on: the chart's data length and x range when
// the page has loaded and again once it has grown (waiting for that, up to a generous bound),
// the live indicator's states, how many times the page took new data, page errors, the
// requests it made, and the page's URL once loaded (the token's redirect followed); once the
// recording ended, what the page shows (the chart's last time, the summary's "Ended"), then,
// after a line on standard input (the test's word that memline exited), whether the page still
// follows, and the console errors and failed requests of the whole visit.
// It prints "loaded" on a line of its own once the page has drawn, before waiting.
// Usage: node check-live.js URL PROFILE_DIR
// Exits 2 when Chromium cannot be started (the message on stderr), 1 on any other failure.
"use strict";

const { launch } = require("./launch");

const WAIT = 40000; // ms: a bound reached only when something is broken

async function main() {
	const [url, profile] = process.argv.slice(2);
	if (!url || !profile) {
		process.stderr.write("usage: node check-live.js URL PROFILE_DIR\n");
		process.exit(64);
	}
	const context = await launch(profile);
	const result = { pageErrors: [], consoleErrors: [], failedRequests: [], requests: [],
		states: [] };
	try {
		const page = context.pages()[0] || await context.newPage();
		page.on("pageerror", (e) => result.pageErrors.push(String(e)));
		page.on("console", (m) => {
			if (m.type() === "error")
				result.consoleErrors.push(m.text());
		});
		context.on("request", (r) => result.requests.push(r.url()));
		context.on("requestfailed", (r) =>
			result.failedRequests.push(r.url() + ": " + (r.failure() || {}).errorText));
		await page.goto(url, { waitUntil: "load" });
		result.pageUrl = page.url(); // after the redirect that drops ?token=
		await page.waitForFunction(() => window.memlineReport !== undefined, null,
			{ timeout: 20000 });
		const look = () => page.evaluate(() => {
			const u = window.memlineReport.chart();
			return { n: u.data[0].length, xmax: u.scales.x.max,
				state: window.memlineReport.live(),
				updates: window.memlineReport.updates() };
		});
		result.first = await look();
		result.states.push(result.first.state);
		process.stdout.write("loaded\n"); // the test lets the job go on, then end
		// The chart grows: more points or a longer time axis than at first.
		try {
			await page.waitForFunction(([n, x]) => {
				const u = window.memlineReport.chart();
				return u.data[0].length > n && u.scales.x.max > x;
			}, [result.first.n, result.first.xmax], { timeout: WAIT, polling: 100 });
		} catch (e) {
			result.growError = String(e).split("\n")[0];
		}
		result.grown = await look();
		result.states.push(result.grown.state);
		// Once the recording ends, the indicator says so.
		try {
			await page.waitForFunction(() => window.memlineReport.live() === "ended", null,
				{ timeout: WAIT, polling: 100 });
		} catch (e) {
			result.endError = String(e).split("\n")[0];
		}
		result.last = await look();
		result.states.push(result.last.state);
		result.indicator = await page.evaluate(() =>
			document.getElementById("live-state").textContent);
		// What the page shows once ended: the last time on the chart, the summary's "Ended".
		result.final = await page.evaluate(() => {
			const u = window.memlineReport.chart();
			const dt = [...document.querySelectorAll("#summary dt")]
				.find((d) => d.textContent === "Ended");
			return { lastT: u.data[0][u.data[0].length - 1],
				ended: dt ? dt.nextElementSibling.textContent : null };
		});
		// The test says when memline has exited: by then a page still following would
		// have failed requests; it must have stopped listening and fetching.
		await new Promise((resolve) => {
			process.stdin.once("data", resolve);
			process.stdin.once("end", resolve);
		});
		result.following = await page.evaluate(() =>
			window.memlineReport.following ? window.memlineReport.following() : null);
	} finally {
		await context.close();
	}
	process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => {
	process.stderr.write(String(e && e.stack || e) + "\n");
	process.exit(1);
});
