// Starts Debian's headless Chromium through playwright-core for the browser tests
// (check-report.js for the static report, check-live.js for the page memline serves).
// launch(profile) resolves to a persistent browser context, or exits 2 with the reason on
// stderr when Chromium cannot be started (the Python tests then skip, saying why).
"use strict";

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

module.exports = { CHROMIUM, ARGS, launch };
