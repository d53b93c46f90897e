// Starts Debian's headless Chromium through playwright-core for the browser tests
// (check-report.js for the static report, check-live.js for the page memline serves,
// check-job.js for the page of a job). launch(profile) resolves to a persistent browser
// context, or exits 2 with the reason on stderr when Chromium cannot be started (the Python
// tests then skip, saying why); openPage loads a file in it, watching for errors and requests.
"use strict";

const path = require("path");
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.MEMLINE_CHROMIUM || "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function launch(profile) {
	try {
		return await chromium.launchPersistentContext(profile, {
			executablePath: CHROMIUM, headless: true, args: ARGS,
			viewport: { width: 1200, height: 900 },
		});
	} catch (e) {
		process.stderr.write("cannot start " + CHROMIUM + ": " + e.message.split("\n")[0] + "\n");
		process.exit(2);
	}
}

// The context's page, loaded from file, with what the tests check of every page kept in result:
// console errors and warnings, page errors, and every request (of the page, its workers and
// frames: the context sees them all).
async function openPage(context, file, result) {
	result.console = [];
	result.pageErrors = [];
	result.requests = [];
	const page = context.pages()[0] || await context.newPage();
	page.on("console", (m) => {
		if (m.type() === "error" || m.type() === "warning")
			result.console.push(m.type() + ": " + m.text());
	});
	page.on("pageerror", (e) => result.pageErrors.push(String(e)));
	context.on("request", (r) => result.requests.push(r.url()));
	result.url = "file://" + path.resolve(file);
	await page.goto(result.url, { waitUntil: "load" });
	return page;
}

// A check script's main: with the arguments PAGE PROFILE_DIR and nargs - 2 more (usage says
// them), opens PAGE in a browser of its own (openPage), runs body(page, result, more), closes
// the browser and prints result as one line of JSON. Exits 64 with the usage for missing
// arguments, 2 when Chromium cannot be started, 1 on any other failure.
function runCheck(usage, nargs, body) {
	const args = process.argv.slice(2);
	if (args.length < nargs) {
		process.stderr.write("usage: " + usage + "\n");
		process.exit(64);
	}
	(async () => {
		const context = await launch(args[1]);
		const result = {};
		try {
			const page = await openPage(context, args[0], result);
			await body(page, result, args.slice(2));
		} finally {
			await context.close();
		}
		process.stdout.write(JSON.stringify(result) + "\n");
	})().catch((e) => {
		process.stderr.write(String(e && e.stack || e) + "\n");
		process.exit(1);
	});
}

// For each canvas the selector finds, how many of its pixels are not transparent.
async function inkedPixels(page, selector) {
	return page.evaluate((sel) => Array.from(document.querySelectorAll(sel)).map((c) => {
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let inked = 0;
		for (let i = 3; i < d.length; i += 4)
			inked += d[i] !== 0;
		return inked;
	}), selector);
}

module.exports = { CHROMIUM, ARGS, launch, openPage, inkedPixels, runCheck };
