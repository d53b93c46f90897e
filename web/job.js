/*
 * memline's page of a job: reads the job from the page's JSON (<script id="memline-data">,
 * written by lib/render/plot-html.c from the merged job, lib/model/job.h) and draws it with
 * uPlot on the job's clock (seconds from its start): the job's memory (its nodes summed); its
 * nodes (each, or the band from the lowest to the highest and their median when there are
 * many); across its ranks the band and their median, and the lines of the ranks ticked in the
 * list under the chart. The list has each rank's name, node, peak and how it ended, sorts by
 * peak or name, and filters on what is typed in its box; the top ranks and the worst start
 * ticked. The charts zoom together.
 *
 * The lines' memory comes in KiB (a page of 1000 ranks' lines stays small), null where nothing
 * was alive (a gap, never a zero); peaks in bytes, as the JSON report has them. A rank's line has a
 * point every rank_step bins of the job's grid (its highest there); between points its values
 * are undefined, which uPlot draws through, while null breaks the line. Every text from a log
 * is escaped by memline and reaches the page through textContent only.
 */
(function () {
	"use strict";

	const { PALETTE, THEMES, BYTE_INCRS, TIME_INCRS, el, fmtBytes, fmtSecs, timeLabels,
		axisStyle } = window.memlineCommon; // web/common.js
	const data = JSON.parse(document.getElementById("memline-data").textContent);
	const job = data.job;
	const ranks = data.ranks;
	const t = data.t;
	const KIB = 1024;
	const BAD = ["failed", "killed", "oom-killed", "incomplete"];
	let theme = data.dark ? "dark" : "light";

	const bytes = (a) => a.map((v) => (v === null ? null : v * KIB));
	const last = t.length ? t[t.length - 1] + data.bin : 0;
	const full = { min: 0, max: Math.max(job.duration || 0, last) || 1 };

	// A rank's line on the job's time axis: its points at every rank_step-th bin.
	function rankLine(r) {
		const out = new Array(t.length);
		r.v.forEach((v, j) => {
			const i = j * data.rank_step;
			if (i < t.length)
				out[i] = v === null ? null : v * KIB;
		});
		return out;
	}
	const rankLines = new Map(); // computed when first ticked

	// ---- the charts ----

	const charts = { job: null, nodes: null, ranks: null };
	let range = { ...full };
	let syncing = false;

	function chartSize(elm) {
		const w = Math.max(320, elm.parentElement.clientWidth - 2);
		return { width: w, height: Math.max(200, Math.min(360, Math.round(w * 0.28))) };
	}

	function line(label, stroke, width, dash) {
		return { label, stroke, width, dash, points: { show: false }, value: (u, v) => fmtBytes(v) };
	}

	// A band from series lo to series hi: both drawn faint, the space between filled.
	function bandSeries(label, colour) {
		return [
			line(label + ": highest", colour + "66", 1),
			line(label + ": lowest", colour + "66", 1),
		];
	}

	// The job's peak, a ring on its line and its value beside it.
	function drawPeak(u) {
		if (job.peak === null)
			return;
		const ctx = u.ctx, dpr = devicePixelRatio, { left, top, width, height } = u.bbox;
		const x = u.valToPos(job.peak_t, "x", true), y = u.valToPos(job.peak, "y", true);
		if (x < left || x > left + width)
			return;
		ctx.save();
		ctx.beginPath();
		ctx.rect(left, top, width, height);
		ctx.clip();
		ctx.strokeStyle = PALETTE[0];
		ctx.lineWidth = 2 * dpr;
		ctx.beginPath();
		ctx.arc(x, y, 4.5 * dpr, 0, 2 * Math.PI);
		ctx.stroke();
		ctx.font = "bold " + Math.round(11 * dpr) + "px sans-serif";
		ctx.textBaseline = "middle";
		ctx.textAlign = "left";
		const text = "peak " + fmtBytes(job.peak) + " at " + fmtSecs(job.peak_t);
		const w = ctx.measureText(text).width;
		const tx = x + 8 * dpr + w > left + width ? x - 8 * dpr - w : x + 8 * dpr;
		ctx.fillStyle = PALETTE[0];
		ctx.fillText(text, tx, Math.max(top + 8 * dpr, y - 8 * dpr));
		ctx.restore();
	}

	// The other charts follow a zoom (and a reset) of one.
	function follow(u, key) {
		if (key !== "x" || syncing)
			return;
		syncing = true;
		range = { min: u.scales.x.min, max: u.scales.x.max };
		Object.values(charts).forEach((c) => {
			if (c && c !== u)
				c.setScale("x", range);
		});
		syncing = false;
	}

	// A chart of series (after Time) with their values, and bands [hi, lo] by series index.
	function makeChart(key, elm, series, values, bands, draw) {
		const th = THEMES[theme];
		const axis = axisStyle(th);
		const hidden = charts[key] ?
			new Set(charts[key].series.filter((s) => !s.show).map((s) => s.label)) : new Set();
		if (charts[key])
			charts[key].destroy();
		const u = new uPlot({
			...chartSize(elm),
			series: [{ label: "Time", value: (u, v) => (v === null ? "–" : fmtSecs(v)) }]
				.concat(series.map((s) => ({ ...s, show: !hidden.has(s.label) }))),
			bands: bands.map(([hi, lo, fill]) => ({ series: [hi, lo], fill })),
			scales: { x: { time: false, min: range.min, max: range.max },
				y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.08 : KIB] } },
			axes: [
				{ ...axis, values: (u, splits, ai, space, incr) => timeLabels(u, splits, incr),
					incrs: TIME_INCRS },
				{ ...axis, size: 80, values: (u, splits) => splits.map(fmtBytes),
					incrs: BYTE_INCRS },
			],
			cursor: { drag: { x: true, y: false, setScale: true }, sync: { key: "memline-job" } },
			legend: { live: true },
			hooks: { setScale: [follow], draw: draw ? [draw] : [] },
		}, [t].concat(values), elm);
		u.setScale("x", range);
		u.over.addEventListener("dblclick", () => setRange(full));
		charts[key] = u;
	}

	function setRange(r) {
		range = { ...r };
		Object.values(charts).forEach((c) => c && c.setScale("x", range));
	}

	function jobChart() {
		makeChart("job", document.getElementById("job-chart"),
			[line("the job's memory", PALETTE[0], 2.5)], [bytes(data.total)], [], drawPeak);
	}

	function nodesChart() {
		const elm = document.getElementById("nodes-chart");
		if (data.nodes.length) {
			makeChart("nodes", elm, data.nodes.map((nd, k) =>
				line("node " + nd.name, PALETTE[(k + 1) % PALETTE.length], 1.5, [6, 3])),
			data.nodes.map((nd) => bytes(nd.v)), []);
		} else if (data.node_band) {
			const b = data.node_band, grey = "#7f7f7f";
			makeChart("nodes", elm, bandSeries("nodes", grey).concat([line("nodes: median",
				THEMES[theme].fg, 1.25, [6, 3])]), [bytes(b.hi), bytes(b.lo), bytes(b.median)],
			[[1, 2, grey + "33"]]);
		}
	}

	// The ranks' chart: the band and the median, then each ticked rank in the list's order.
	let rankChoice = []; // rank indices, as drawn after the band and the median
	function ranksChart() {
		const elm = document.getElementById("ranks-chart");
		const series = [], values = [], bands = [];
		if (data.band) {
			const b = data.band, blue = PALETTE[0];
			series.push(...bandSeries("ranks", blue), line("ranks: median", THEMES[theme].fg,
				1.25));
			values.push(bytes(b.hi), bytes(b.lo), bytes(b.median));
			bands.push([1, 2, blue + "2e"]);
		}
		rankChoice = ranks.map((r, i) => i).filter((i) => picked.has(i));
		rankChoice.forEach((i) => {
			if (!rankLines.has(i))
				rankLines.set(i, rankLine(ranks[i]));
			series.push({ ...line(ranks[i].name, PALETTE[1 + i % (PALETTE.length - 1)], 1.5),
				spanGaps: false });
			values.push(rankLines.get(i));
		});
		makeChart("ranks", elm, series, values, bands);
	}

	// ---- the picker of ranks ----

	const picked = new Set(data.picked);
	const rowsEl = document.getElementById("rank-rows");
	const filterEl = document.getElementById("rank-filter");
	const countEl = document.getElementById("rank-count");
	const sortPeak = document.getElementById("sort-peak");
	const sortName = document.getElementById("sort-name");
	let order = { key: "peak", dir: -1 };

	// Natural order of names: "rank 9" before "rank 10".
	const collator = new Intl.Collator(undefined, { numeric: true });

	const rows = ranks.map((r, i) => {
		const tr = el("tr");
		const box = el("input");
		box.type = "checkbox";
		box.checked = picked.has(i);
		box.setAttribute("aria-label", "draw " + r.name);
		box.addEventListener("change", () => {
			if (box.checked)
				picked.add(i);
			else
				picked.delete(i);
			ranksChart();
			showCount();
		});
		const td = el("td");
		td.append(box);
		tr.append(td, el("td", r.name), el("td", r.node), el("td", fmtBytes(r.peak)),
			el("td", r.peak_t === null ? "?" : fmtSecs(r.peak_t)),
			el("td", r.ending + (r.truncated ? " (cut off)" : ""),
				BAD.includes(r.status) || r.truncated ? "bad" : null));
		// what the filter matches, lowercased
		tr.dataset.text = (r.name + "\n" + r.node + "\n" + r.ending).toLowerCase();
		return { tr, box, i };
	});

	function sortRows() {
		const key = (i) => (ranks[i].peak === null ? -1 : ranks[i].peak);
		const sorted = rows.slice().sort((a, b) => (order.key === "peak" ?
			(key(a.i) - key(b.i)) || a.i - b.i : collator.compare(ranks[a.i].name,
				ranks[b.i].name) || a.i - b.i) * order.dir);
		rowsEl.replaceChildren(...sorted.map((r) => r.tr));
		sortPeak.setAttribute("aria-sort", order.key === "peak" ?
			(order.dir < 0 ? "descending" : "ascending") : "none");
		sortName.setAttribute("aria-sort", order.key === "name" ?
			(order.dir < 0 ? "descending" : "ascending") : "none");
	}

	function filterRows() {
		const words = filterEl.value.toLowerCase().split(/\s+/).filter((w) => w);
		rows.forEach((r) => {
			r.tr.hidden = !words.every((w) => r.tr.dataset.text.includes(w));
		});
		showCount();
	}

	function showCount() {
		const shown = rows.filter((r) => !r.tr.hidden).length;
		const noun = job.ranks ? " ranks" : " logs";
		countEl.textContent = (shown === rows.length ? rows.length + noun :
			shown + " of " + rows.length + noun) + ", " + picked.size + " ticked";
	}

	function sortBy(key) {
		order = order.key === key ? { key, dir: -order.dir } :
			{ key, dir: key === "peak" ? -1 : 1 };
		sortRows();
	}
	sortPeak.addEventListener("click", () => sortBy("peak"));
	sortName.addEventListener("click", () => sortBy("name"));
	filterEl.addEventListener("input", filterRows);
	document.getElementById("rank-none").addEventListener("click", () => {
		picked.clear();
		rows.forEach((r) => (r.box.checked = false));
		ranksChart();
		showCount();
	});

	// ---- the summary ----

	function summary() {
		const title = data.title || job.title;
		document.title = title;
		document.getElementById("title").textContent = title;
		const sec = document.getElementById("summary");
		const dl = el("dl", null, "summary");
		const add = (k, v, cls) => {
			dl.append(el("dt", k), el("dd", v, cls));
		};
		if (job.id !== null)
			add("Job", job.id);
		add("Ended", job.status + (job.worst !== null ? ": " + job.worst : ""),
			BAD.includes(job.status) ? "bad" : "good");
		add("Logs", job.logs + (job.ranks ? ", " + job.ranks + " ranks" : "") + " on " +
			job.nodes + " node" + (job.nodes === 1 ? "" : "s"));
		if (job.launcher !== null)
			add("Launcher", job.launcher);
		add("Started", job.start + " (UTC); the charts' time is from here");
		add("Duration", fmtSecs(job.duration));
		add("Peak memory", job.peak === null ? "?" : fmtBytes(job.peak) + " at " +
			fmtSecs(job.peak_t) + " (the job: its logs summed on the wall clock)");
		if (job.median_peak !== null && ranks.length > 1)
			add("Median rank's peak", fmtBytes(job.median_peak));
		if (job.missing_ranks.length)
			add("Ranks with no log", job.missing_ranks.join(", "), "bad");
		if (job.cut)
			add("Cut off", job.cut + " log" + (job.cut === 1 ? "" : "s") +
				" end with no end record", "bad");
		sec.append(dl);
		job.unreadable.forEach((u) => sec.append(el("p", "could not read " + u.path + ": " +
			u.error, "bad")));
		document.getElementById("job-what").textContent = "the job's memory: its nodes " +
			"summed on the wall clock" + (job.nodes > 1 ? " (each node's below)" : "");
		if (data.nodes.length || data.node_band) {
			document.getElementById("nodes-panel").hidden = false;
			document.getElementById("nodes-title").textContent = "Its " + job.nodes + " nodes";
		}
		if (ranks.length) {
			document.getElementById("ranks-panel").hidden = false;
			document.getElementById("ranks-title").textContent = "Its " + ranks.length +
				(job.ranks ? " ranks" : " logs");
			document.getElementById("ranks-what").textContent = (data.band ?
				"the band: the lowest to the highest rank at each moment; the line: their " +
				"median; " : "") + "a ticked rank's line has a point every " +
				fmtSecs(data.rank_step * data.bin) + " (its highest there)";
		}
	}

	function drawAll() {
		document.documentElement.dataset.theme = theme;
		document.getElementById("theme").textContent = theme === "dark" ? "Light" : "Dark";
		jobChart();
		nodesChart();
		if (ranks.length)
			ranksChart();
	}

	summary();
	sortRows();
	showCount();
	drawAll();

	document.getElementById("reset").addEventListener("click", () => setRange(full));
	document.getElementById("theme").addEventListener("click", () => {
		theme = theme === "dark" ? "light" : "dark";
		drawAll();
	});
	let resizeTimer = 0;
	window.addEventListener("resize", () => {
		clearTimeout(resizeTimer);
		resizeTimer = setTimeout(() => Object.entries(charts).forEach(([k, c]) => c &&
			c.setSize(chartSize(document.getElementById(k + "-chart")))), 100);
	});

	// For tests and the curious: the charts, the ranks' lines drawn, the list as shown.
	window.memlineJob = Object.freeze({
		charts: () => ({ ...charts }),
		rankSeries: () => (charts.ranks ? charts.ranks.series.slice(1).map((s) => s.label) : []),
		picked: () => rankChoice.slice(),
		rows: () => Array.from(rowsEl.children).filter((tr) => !tr.hidden).map((tr) =>
			Array.from(tr.children).slice(1).map((td) => td.textContent)),
	});
})();
