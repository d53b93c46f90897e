/*
 * What memline's pages share (web/report.js, the report of runs, and web/job.js, the page of a
 * job): text into the DOM only through textContent (el), bytes and durations for people, the
 * steps and labels of the time and byte axes, the themes and the palette. Loaded before the
 * page's script, as window.memlineCommon (frozen).
 */
(function () {
	"use strict";

	const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
		"#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
	const THEMES = {
		light: { fg: "#222", bg: "#fff", grid: "rgba(0,0,0,0.09)", event: "#444", band: 0.10 },
		dark: { fg: "#ddd", bg: "#15161a", grid: "rgba(255,255,255,0.10)", event: "#ccc",
			band: 0.16 },
	};

	// Tick steps for bytes: 1, 2, 2.5, 5 times powers of ten within each power of 1024.
	const BYTE_INCRS = [];
	for (let p = 1; p < 2 ** 60; p *= 1024)
		[1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500].forEach((m) => BYTE_INCRS.push(m * p));

	// An element with text (set as textContent, never parsed as markup) and a class.
	function el(tag, text, cls) {
		const e = document.createElement(tag);
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		if (cls)
			e.className = cls;
		return e;
	}

	function fmtBytes(b) {
		if (b === null || b === undefined || isNaN(b))
			return "?";
		if (b < 1024)
			return Math.round(b) + " B";
		const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
		let v = b / 1024, u = 0;
		while (v >= 1023.95 && u + 1 < units.length) {
			v /= 1024;
			u++;
		}
		return v.toFixed(1) + " " + units[u];
	}

	function fmtSecs(s) {
		if (s === null || s === undefined)
			return "?";
		const neg = s < 0 ? "-" : "";
		const ms = Math.round(Math.abs(s) * 1000);
		if (ms < 1000)
			return neg + ms + " ms";
		if (ms < 59950)
			return neg + (ms / 1000).toFixed(1) + " s";
		if (ms < 3600000 - 500) {
			const t = Math.round(ms / 1000);
			return neg + Math.floor(t / 60) + " min " + String(t % 60).padStart(2, "0") + " s";
		}
		if (ms < 86400000 * 2) {
			const t = Math.round(ms / 60000);
			return neg + Math.floor(t / 60) + " h " + String(t % 60).padStart(2, "0") + " min";
		}
		const h = Math.round(ms / 3600000);
		return neg + Math.floor(h / 24) + " d " + String(h % 24).padStart(2, "0") + " h";
	}

	// The decimals that print every multiple of step exactly: 2 for 0.25, 1 for 2.5, 0 for 5.
	function decimalsFor(step) {
		let d = 0;
		while (d < 6 && Math.abs(step * 10 ** d - Math.round(step * 10 ** d)) > 1e-6 * 10 ** d)
			d++;
		return d;
	}

	// Steps of the time axis, in seconds: 1, 2, 2.5 and 5 times powers of ten below a second,
	// then steps that are whole in their unit (s, min, h, days).
	const TIME_INCRS = [];
	for (let e = -6; e < 0; e++)
		[1, 2, 2.5, 5].forEach((m) => TIME_INCRS.push(m * 10 ** e));
	TIME_INCRS.push(1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200,
		10800, 21600, 43200);
	for (let d = 1; d < 1e6; d *= 10)
		[1, 2, 5].forEach((m) => TIME_INCRS.push(m * d * 86400));

	// Axis labels: milliseconds for a range under 2 s, else the largest unit the step is whole
	// in (30 s, 20 min, 6 h), with the decimals the step needs: 0.25, 0.50, 0.75 s, never 0.3,
	// 0.5, 0.8 for steps of 0.25 s.
	function timeLabels(u, splits, incr) {
		const range = u.scales.x.max - u.scales.x.min;
		const unit = range < 2 ? [0, 0.001, "ms"] : incr < 60 ? [0, 1, "s"] :
			incr < 3600 ? [0, 60, "min"] : incr < 86400 ? [0, 3600, "h"] : [0, 86400, "d"];
		const dec = decimalsFor(incr / unit[1]);
		return splits.map((s) => (s / unit[1]).toFixed(dec) + " " + unit[2]);
	}

	// uPlot's options of an axis in a theme.
	function axisStyle(th) {
		return { stroke: th.fg, grid: { stroke: th.grid, width: 1 }, ticks: { stroke: th.grid } };
	}

	window.memlineCommon = Object.freeze({ PALETTE, THEMES, BYTE_INCRS, TIME_INCRS, el,
		fmtBytes, fmtSecs, decimalsFor, timeLabels, axisStyle });
})();
