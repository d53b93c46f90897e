/*
 * memline's interactive report: reads the runs from the page's JSON (<script id="memline-data">,
 * written by lib/render/plot-html.c) and draws them with uPlot: the leading line (the job's
 * memory, named by its method, where the log measured it; else the tree total), the RSS sum
 * where it differs from the job's, and the top processes of each run on one time axis (each
 * run from its start), spans as shaded bands, events as markers with a tooltip (and, with the "Event labels" toggle, their labels in rows on the chart), the
 * captured output near the cursor, the summary and the tables of events and phases; stack
 * captures (--stacks) as markers at the chart's foot, a click on one showing its threads' stacks
 * in a panel beside the chart; below the chart, the thread view of a process (its threads'
 * heap or CPU, their peaks, a picker when several processes have threads). Everything from a
 * log reaches the page through textContent, never as markup.
 * Drag zooms (uPlot), the wheel zooms at the pointer, Shift+drag and Shift+wheel pan.
 *
 * A page served by `memline run --serve` (data.live) follows the recording: it listens to the
 * server's event stream (/events) and, at most twice a second while records come, fetches the
 * data again (/data.json) and redraws the chart (keeping the user's zoom) and the tables. The
 * stream's last message, "end", brings the data as the run ended (the server may be gone just
 * after); "stop" says the server stops first. Either way the page stops listening and fetching.
 */
(function () {
	"use strict";

	let data = JSON.parse(document.getElementById("memline-data").textContent);
	let runs = data.runs;
	const isCpu = data.metric === "cpu";
	const multi = runs.length > 1;
	const { PALETTE, THEMES, BYTE_INCRS, TIME_INCRS, el, fmtBytes, fmtSecs, timeLabels,
		axisStyle } = window.memlineCommon; // web/common.js
	const MAX_ROWS = 1000;

	// ---- text helpers ----

	function fmtValue(v) {
		if (v === null || v === undefined)
			return "–";
		return isCpu ? v.toFixed(1) + " %" : fmtBytes(v);
	}

	let lastTimeTicks = { splits: [], labels: [] };
	function timeTicks(u, splits, axisIdx, space, incr) {
		const labels = timeLabels(u, splits, incr);
		lastTimeTicks = { splits: splits.slice(), labels };
		return labels;
	}

	// ---- series and data ----

	let series, seriesRun, aligned, full;

	// The uPlot series and data of the runs, and the full time range.
	function buildSeries() {
		series = [{ label: "Time", value: (u, v) => (v === null ? "–" : fmtSecs(v)) }];
		const tables = [];
		seriesRun = [null]; // per uPlot series: [run index, series index in the run]
		let colour = 0;
		runs.forEach((run, r) => {
			const table = [run.t];
			run.series.forEach((s, k) => {
				// The leading line: the job's memory (kind "job"), else the tree's total. A
				// total beside a job line (the RSS sum) is second and lighter.
				const lead = k === 0;
				const second = !lead && s.kind === "total";
				// A leading line that is its only process's: a wide pale band under that
				// line, which it would hide (uPlot draws the series in order, it first).
				const band = lead && run.tree_is_proc;
				const name = (multi ? run.label + " · " : "") + s.name +
					(band ? " (the same as its only process)" : "");
				const stroke = PALETTE[colour++ % PALETTE.length];
				series.push({
					label: name,
					stroke: band ? stroke + "55" : second ? stroke + "99" : stroke,
					width: band ? 7 : lead ? 2.5 : second ? 1.5 : run.tree_is_proc ? 1.75 : 1.25,
					dash: r > 0 ? [8, 4] : undefined,
					spanGaps: true,
					points: { show: false },
					value: (u, v) => fmtValue(v),
				});
				seriesRun.push([r, k]);
				table.push(s.v);
			});
			tables.push(table);
		});
		aligned = tables.length === 1 ? tables[0] : uPlot.join(tables);
		let tMax = 0;
		runs.forEach((run) => {
			if (run.t.length)
				tMax = Math.max(tMax, run.t[run.t.length - 1]);
			tMax = Math.max(tMax, run.duration || 0);
		});
		full = { min: 0, max: tMax > 0 ? tMax : 1 };
	}
	buildSeries();

	// The total's value at time t in run r (the last point at or before t), for markers.
	function totalAt(r, t) {
		const run = runs[r], ts = run.t, v = run.series[0].v;
		let lo = 0, hi = ts.length - 1, at = -1;
		while (lo <= hi) {
			const mid = (lo + hi) >> 1;
			if (ts[mid] <= t) {
				at = mid;
				lo = mid + 1;
			} else {
				hi = mid - 1;
			}
		}
		for (let i = Math.max(at, 0); i >= 0 && i < v.length; i--)
			if (v[i] !== null)
				return v[i];
		return null;
	}

	// uPlot series index of run r's total
	function totalSeries(r) {
		return seriesRun.findIndex((x) => x && x[0] === r && x[1] === 0);
	}

	// ---- drawing spans and events ----

	// Text cut with "…" to at most w pixels in the context's font ("" when not even that fits).
	function cutText(ctx, text, w) {
		if (ctx.measureText(text).width <= w)
			return text;
		const chars = Array.from(text);
		let lo = 0, hi = chars.length;
		while (lo < hi) {
			const mid = (lo + hi + 1) >> 1;
			if (ctx.measureText(chars.slice(0, mid).join("") + "…").width <= w)
				lo = mid;
			else
				hi = mid - 1;
		}
		return lo ? chars.slice(0, lo).join("") + "…" : "";
	}

	const SPAN_ROWS = 3;
	let spanLabels = []; // the span names drawn, in CSS pixels of the chart's canvas, for tests

	// Spans: a band each (darker when nested), their names in rows along the bottom, in order of
	// start, each in the lowest row where it overlaps no name already there (spans of several
	// threads overlap in time), cut to the band's width; those with no room are counted.
	function drawSpans(u) {
		const ctx = u.ctx, th = THEMES[theme], { left, top, width, height } = u.bbox;
		const dpr = devicePixelRatio, rowH = 14 * dpr;
		ctx.save();
		ctx.beginPath();
		ctx.rect(left, top, width, height);
		ctx.clip();
		ctx.font = Math.round(11 * dpr) + "px sans-serif";
		ctx.textBaseline = "bottom";
		const all = [];
		runs.forEach((run, r) => run.spans.forEach((s, i) => all.push([s, r, i])));
		all.sort((a, b) => a[0].start - b[0].start || a[1] - b[1] || a[2] - b[2]);
		const right = new Array(SPAN_ROWS).fill(-Infinity);
		const labels = [];
		let skipped = 0;
		all.forEach(([s, r, i]) => {
			const x0 = u.valToPos(s.start, "x", true), x1 = u.valToPos(s.end, "x", true);
			if (x1 < left || x0 > left + width) {
				skipped++;
				return;
			}
			ctx.globalAlpha = th.band * (1 + 0.5 * Math.min(s.depth || 0, 2));
			ctx.fillStyle = PALETTE[(multi ? r : i + 3) % PALETTE.length];
			ctx.fillRect(x0, top, Math.max(x1 - x0, 1), height);
			const from = Math.max(x0, left) + 3;
			const text = cutText(ctx, s.name, Math.min(x1, left + width) - from - 3);
			const row = text ? right.findIndex((end) => end <= from) : -1;
			if (row < 0) {
				skipped++;
				return;
			}
			const w = ctx.measureText(text).width;
			right[row] = from + w + 6 * dpr;
			labels.push({ text, x: from, y: top + height - 2 * dpr - row * rowH, w });
		});
		ctx.globalAlpha = 1;
		labels.forEach((l) => {
			ctx.fillStyle = th.bg;
			ctx.globalAlpha = 0.7;
			ctx.fillRect(l.x - 1, l.y - rowH + 2 * dpr, l.w + 2, rowH - 2 * dpr);
			ctx.globalAlpha = 1;
			ctx.fillStyle = th.fg;
			ctx.fillText(l.text, l.x, l.y);
		});
		ctx.restore();
		spanLabels = labels.map((l) => ({ text: l.text, x: l.x / dpr, y: (l.y - rowH) / dpr,
			w: l.w / dpr, h: rowH / dpr }));
		spanLabels.skipped = skipped;
	}

	function drawEvents(u) {
		const ctx = u.ctx, th = THEMES[theme], { left, top, width, height } = u.bbox;
		const dpr = devicePixelRatio;
		ctx.save();
		ctx.beginPath();
		ctx.rect(left, top, width, height);
		ctx.clip();
		runs.forEach((run, r) => {
			const ts = totalSeries(r);
			const shown = ts > 0 && u.series[ts].show;
			run.events.forEach((e) => {
				const x = u.valToPos(e.t, "x", true);
				if (x < left - 5 || x > left + width + 5)
					return;
				ctx.strokeStyle = th.event;
				ctx.globalAlpha = 0.35;
				ctx.setLineDash([3 * dpr, 3 * dpr]);
				ctx.lineWidth = dpr;
				ctx.beginPath();
				ctx.moveTo(x, top);
				ctx.lineTo(x, top + height);
				ctx.stroke();
				ctx.globalAlpha = 1;
				ctx.setLineDash([]);
				const v = shown ? totalAt(r, e.t) : null;
				const y = v === null ? top + 6 * dpr : u.valToPos(v, "y", true);
				const s = 5 * dpr;
				ctx.fillStyle = series[ts > 0 ? ts : 1].stroke.slice(0, 7); // no band's alpha
				ctx.beginPath();
				ctx.moveTo(x, y - s);
				ctx.lineTo(x + s, y);
				ctx.lineTo(x, y + s);
				ctx.lineTo(x - s, y);
				ctx.closePath();
				ctx.fill();
			});
		});
		ctx.restore();
	}

	// ---- stack captures (--stacks): markers at the chart's foot, a panel of their stacks ----

	const CAPTURE_COLOR = "#9467bd";
	let openCapture = null; // [run, index] of the capture the panel shows, or null

	function capturesOf(run) {
		return Array.isArray(run.stacks) ? run.stacks : [];
	}

	function drawCaptures(u) {
		const ctx = u.ctx, { left, top, width, height } = u.bbox, dpr = devicePixelRatio;
		ctx.save();
		runs.forEach((run, r) => capturesOf(run).forEach((c, i) => {
			const x = u.valToPos(c.t, "x", true);
			if (x < left - 1 || x > left + width + 1)
				return;
			const y = top + height, s = 6 * dpr;
			const open = openCapture !== null && openCapture[0] === r && openCapture[1] === i;
			ctx.fillStyle = CAPTURE_COLOR;
			ctx.globalAlpha = open ? 1 : 0.75;
			ctx.beginPath();
			ctx.moveTo(x, y - 1.6 * s);
			ctx.lineTo(x + s, y);
			ctx.lineTo(x - s, y);
			ctx.closePath();
			ctx.fill();
		}));
		ctx.restore();
	}

	// Where capture i of run r is drawn, in CSS pixels of the page (for clicks and tests).
	function capturePoint(r, i) {
		const c = capturesOf(runs[r])[i], over = u.over.getBoundingClientRect();
		const clamp = (p, max) => Math.min(Math.max(p, 0), max - 1);
		return { x: over.left + clamp(u.valToPos(c.t, "x"), over.width), y: over.top + over.height - 4 };
	}

	// The capture whose marker is at (x, y), CSS pixels of the plot area; null if none.
	function captureAt(x, y, height) {
		if (y < height - 24)
			return null;
		let best = null;
		runs.forEach((run, r) => capturesOf(run).forEach((c, i) => {
			const d = Math.abs(u.valToPos(c.t, "x") - x);
			if (d <= 8 && (best === null || d < best[2]))
				best = [r, i, d];
		}));
		return best && [best[0], best[1]];
	}

	const stacksPanel = document.getElementById("stacks");
	const stacksBody = document.getElementById("stacks-body");

	// A capture's threads, those with the same frames (and no error) in one entry.
	function stackEntries(c) {
		const entries = [];
		c.threads.forEach((t) => {
			const key = t.error === null ? JSON.stringify(t.frames) : null;
			const same = key !== null && entries.find((e) => e.key === key);
			if (same)
				same.threads.push(t);
			else
				entries.push({ key, threads: [t] });
		});
		return entries;
	}

	function showStacks(r, i) {
		const c = capturesOf(runs[r])[i];
		openCapture = [r, i];
		document.getElementById("stacks-title").textContent = "Capture " + c.capture + " at " +
			fmtSecs(c.t) + (multi ? " (" + runs[r].label + ")" : "");
		stacksBody.replaceChildren(el("p", "why: " + c.why +
			(c.label !== null ? " \u201c" + c.label + "\u201d" : "") + ", pid " + c.pid, "muted"));
		stackEntries(c).forEach((e) => {
			const names = e.threads.map((t) => t.tid + (t.thread !== null ? " " + t.thread : "") +
				(t.truncated ? " (truncated)" : ""));
			stacksBody.append(el("h3", (e.threads.length > 1 ? e.threads.length + " threads: " :
				"thread ") + names.join(", ")));
			const t = e.threads[0];
			if (t.error !== null)
				stacksBody.append(el("p", t.error, "stack-error"));
			if (t.frames.length) {
				const ol = el("ol");
				t.frames.forEach((f) => ol.append(el("li", f)));
				stacksBody.append(ol);
			} else if (t.error === null) {
				stacksBody.append(el("p", "no frames", "muted"));
			}
		});
		if (!c.threads.length)
			stacksBody.append(el("p", "no thread", "muted"));
		const opening = stacksPanel.hidden;
		stacksPanel.hidden = false;
		if (opening)
			u.setSize(size());
		u.redraw(false, false);
	}

	function closeStacks() {
		openCapture = null;
		stacksPanel.hidden = true;
		u.setSize(size());
		u.redraw(false, false);
	}
	document.getElementById("stacks-close").addEventListener("click", closeStacks);

	function onChartClick(ev) {
		const rect = u.over.getBoundingClientRect();
		const hit = captureAt(ev.clientX - rect.left, ev.clientY - rect.top, rect.height);
		if (hit)
			showStacks(hit[0], hit[1]);
	}

	// ---- event labels on the chart (the "Event labels" toggle) ----

	const LABEL_ROWS = 4, LABEL_ROW_H = 15, LABEL_MAX_W = 220, LABEL_FONT = "11px sans-serif";
	const labelsBox = document.getElementById("event-labels");
	const labelLayer = el("div", null, "ev-labels");
	const measure = document.createElement("canvas").getContext("2d");

	// A label as one line of text: control characters as spaces, cut with "…" to w pixels.
	function labelText(label, w) {
		measure.font = LABEL_FONT;
		return cutText(measure, String(label).replace(/[\u0000-\u001f\u007f-\u009f]/g, " "), w);
	}

	// Like the PNG: each event's label in the first of the top rows where it fits to the right
	// of its line, else to its left, never over another label; the rest are counted ("+N").
	// The labels are DOM elements over the chart, their text set with textContent.
	function placeEventLabels(u) {
		if (labelLayer.parentNode !== u.over)
			u.over.append(labelLayer);
		labelLayer.replaceChildren();
		if (!labelsBox.checked)
			return;
		const width = u.over.clientWidth, height = u.over.clientHeight;
		const rows = Math.max(1, Math.min(LABEL_ROWS, Math.floor(height / LABEL_ROW_H / 4)));
		const all = [];
		runs.forEach((run, r) => run.events.forEach((e) => all.push([e, r])));
		all.sort((a, b) => a[0].t - b[0].t || a[1] - b[1]);
		const right = new Array(rows).fill(-Infinity);
		let skipped = 0;
		measure.font = LABEL_FONT;
		for (const [e, r] of all) {
			const x = u.valToPos(e.t, "x");
			if (!(x >= 0 && x <= width)) {
				skipped++;
				continue;
			}
			let text = null, w = 0, at = 0, row = -1;
			for (let k = 0; k < rows && row < 0; k++) {
				if (right[k] > x + 3)
					continue;
				if (text === null) {
					text = labelText(e.label, Math.min(LABEL_MAX_W, width - 8));
					w = measure.measureText(text).width + 2;
				}
				if (!text)
					break;
				if (x + 3 + w <= width) {
					row = k;
					at = x + 3;
				} else if (x - 3 - w >= 0 && x - 3 - w > right[k] + 6) {
					row = k;
					at = x - 3 - w;
				}
			}
			if (row < 0) {
				skipped++;
				continue;
			}
			right[row] = at + w + 6;
			const span = el("span", text, "ev-label");
			span.style.left = at + "px";
			span.style.top = 2 + row * LABEL_ROW_H + "px";
			if (multi)
				span.style.color = series[totalSeries(r)].stroke.slice(0, 7);
			labelLayer.append(span);
		}
		if (skipped)
			labelLayer.append(el("span", "+" + skipped + " event" + (skipped === 1 ? "" : "s") +
				" not labelled", "ev-more"));
	}
	labelsBox.addEventListener("change", () => placeEventLabels(u));

	// Where event i of run r is drawn, in CSS pixels of the page (for the tooltip and tests).
	function eventPoint(r, i) {
		const e = runs[r].events[i], over = u.over.getBoundingClientRect();
		const ts = totalSeries(r);
		const v = ts > 0 && u.series[ts].show ? totalAt(r, e.t) : null;
		// Inside the plot area: an event at the run's very end sits on its right edge, which
		// belongs to the area's outside.
		const clamp = (p, max) => Math.min(Math.max(p, 0), max - 1);
		return {
			x: over.left + clamp(u.valToPos(e.t, "x"), over.width),
			y: over.top + clamp(v === null ? 6 : u.valToPos(v, "y"), over.height),
		};
	}

	// ---- the tooltip of events near the cursor, and output lines near its time ----

	const tip = document.getElementById("tip");
	const nearLines = document.getElementById("near-lines");
	const nearTime = document.getElementById("near-time");
	let lastNear = null;

	function showTip(u) {
		const cx = u.cursor.left;
		if (cx === undefined || cx < 0) {
			tip.hidden = true;
			return;
		}
		const hits = [];
		runs.forEach((run, r) => {
			run.events.forEach((e) => {
				const d = Math.abs(u.valToPos(e.t, "x") - cx);
				if (d <= 8)
					hits.push([d, r, e]);
			});
		});
		if (!hits.length) {
			tip.hidden = true;
			return;
		}
		hits.sort((a, b) => a[0] - b[0]);
		tip.replaceChildren();
		hits.slice(0, 6).forEach(([, r, e]) => {
			const row = el("div", null, "tip-row");
			row.append(el("span", e.label, "tip-label"));
			const where = (multi ? runs[r].label + ": " : "") + "at " + fmtSecs(e.t) +
				(e.rss !== null ? ", tree RSS " + fmtBytes(e.rss) : "");
			row.append(el("span", where, "tip-where"));
			tip.append(row);
		});
		if (hits.length > 6)
			tip.append(el("div", "… " + (hits.length - 6) + " more", "tip-where"));
		tip.hidden = false;
		const over = u.over, wrap = tip.parentElement.getBoundingClientRect();
		const o = over.getBoundingClientRect();
		let x = o.left - wrap.left + cx + 12;
		if (x + tip.offsetWidth > wrap.width)
			x = Math.max(0, o.left - wrap.left + cx - tip.offsetWidth - 12);
		tip.style.left = x + "px";
		tip.style.top = (o.top - wrap.top + Math.max(0, (u.cursor.top || 0) - 10)) + "px";
	}

	function showNear(u) {
		const cx = u.cursor.left;
		if (cx === undefined || cx < 0)
			return;
		const t = u.posToVal(cx, "x");
		const key = Math.round(t * 1000);
		if (key === lastNear)
			return;
		lastNear = key;
		nearTime.textContent = fmtSecs(t);
		const rows = [];
		runs.forEach((run, r) => {
			const out = run.output;
			if (!out.length)
				return;
			let lo = 0, hi = out.length;
			while (lo < hi) {
				const mid = (lo + hi) >> 1;
				if (out[mid].t < t)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (let i = Math.max(0, lo - 4); i < Math.min(out.length, lo + 4); i++)
				rows.push([r, out[i]]);
		});
		rows.sort((a, b) => a[1].t - b[1].t);
		nearLines.replaceChildren();
		if (!rows.length) {
			nearLines.append(el("li", "no captured output (record with --capture-output)", "muted"));
			return;
		}
		rows.forEach(([r, o]) => {
			const li = el("li", null, o.stream === "stderr" ? "stderr" : "stdout");
			li.append(el("span", (multi ? runs[r].label + " " : "") + fmtSecs(o.t), "out-time"));
			li.append(el("span", o.stream, "out-stream"));
			li.append(el("span", o.text, "out-text"));
			nearLines.append(li);
		});
	}

	// ---- the chart ----

	let theme = data.dark ? "dark" : "light";
	let u = null;
	const chartEl = document.getElementById("chart");

	function size() {
		const w = Math.max(320, chartEl.parentElement.clientWidth - 2);
		return { width: w, height: Math.max(260, Math.min(560, Math.round(w * 0.45))) };
	}

	function makeChart(range) {
		const th = THEMES[theme];
		const axis = axisStyle(th);
		const opts = {
			...size(),
			series,
			scales: { x: { time: false, min: range.min, max: range.max } },
			axes: [
				{ ...axis, values: timeTicks, incrs: TIME_INCRS },
				{ ...axis, size: 80, values: (u, splits) => splits.map(fmtValue),
					incrs: isCpu ? undefined : BYTE_INCRS },
			],
			cursor: { drag: { x: true, y: false, setScale: true } },
			legend: { live: true },
			hooks: {
				drawClear: [drawSpans],
				draw: [drawEvents, drawCaptures, placeEventLabels],
				setCursor: [showTip, showNear],
			},
		};
		document.documentElement.dataset.theme = theme;
		document.getElementById("theme").textContent = theme === "dark" ? "Light" : "Dark";
		const hidden = u ? new Set(u.series.filter((s) => !s.show).map((s) => s.label)) : null;
		if (u)
			u.destroy();
		if (hidden)
			opts.series = series.map((s) => ({ ...s, show: !hidden.has(s.label) }));
		u = new uPlot(opts, aligned, chartEl);
		u.over.addEventListener("click", onChartClick);
		u.setScale("x", range);
	}

	function setRange(min, max) {
		const w = max - min;
		if (!(w > 0))
			return;
		if (w > full.max - full.min) {
			min = full.min;
			max = full.max;
		} else if (min < full.min) {
			max += full.min - min;
			min = full.min;
		} else if (max > full.max) {
			min -= max - full.max;
			max = full.max;
		}
		u.setScale("x", { min, max });
	}

	const wrap = document.getElementById("chart-wrap");
	wrap.addEventListener("wheel", (e) => {
		if (!u.over.contains(e.target))
			return;
		e.preventDefault();
		const { min, max } = u.scales.x;
		const w = max - min;
		const rect = u.over.getBoundingClientRect();
		if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
			const d = (e.shiftKey ? e.deltaY || e.deltaX : e.deltaX) / rect.width * w;
			setRange(min + d, max + d);
			return;
		}
		const at = u.posToVal(e.clientX - rect.left, "x");
		const f = e.deltaY < 0 ? 0.8 : 1.25;
		setRange(at - (at - min) * f, at + (max - at) * f);
	}, { passive: false });

	// Shift+drag pans; caught before uPlot's own drag (zoom) sees it.
	let pan = null;
	wrap.addEventListener("mousedown", (e) => {
		if (!e.shiftKey || e.button !== 0 || !u.over.contains(e.target))
			return;
		e.stopPropagation();
		e.preventDefault();
		pan = { x: e.clientX, min: u.scales.x.min, max: u.scales.x.max };
	}, true);
	document.addEventListener("mousemove", (e) => {
		if (!pan)
			return;
		const w = pan.max - pan.min;
		const d = -(e.clientX - pan.x) / u.over.getBoundingClientRect().width * w;
		setRange(pan.min + d, pan.max + d);
	});
	document.addEventListener("mouseup", () => {
		pan = null;
	});

	document.getElementById("reset").addEventListener("click", () => setRange(full.min, full.max));
	document.getElementById("theme").addEventListener("click", () => {
		theme = theme === "dark" ? "light" : "dark";
		makeChart({ min: u.scales.x.min, max: u.scales.x.max });
		renderThreads(true);
	});
	let resizeTimer = 0;
	window.addEventListener("resize", () => {
		clearTimeout(resizeTimer);
		resizeTimer = setTimeout(() => {
			u.setSize(size());
			if (tu)
				tu.setSize(threadSize());
		}, 100);
	});

	// ---- the thread view: one process's threads (each run's "threads") ----

	// A process's threads: each thread's live heap over time with the process's heap and RSS
	// (or, without heap numbers, each thread's CPU), a dot and a label at each thread's peak,
	// the line nearest the cursor named in a tooltip, a picker when several processes have
	// threads.
	// Names come escaped from memline (text_escape: no bidirectional override turns them
	// around) and reach the page through textContent and the canvas only.
	const threadsSection = document.getElementById("threads");
	const threadsPick = document.getElementById("threads-pick");
	const threadsProc = document.getElementById("threads-proc");
	const threadsWhat = document.getElementById("threads-what");
	const threadsTitle = document.getElementById("threads-title");
	const threadsChart = document.getElementById("threads-chart");
	const threadsTip = document.getElementById("threads-tip");
	const THREAD_COLOURS = ["#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
		"#bcbd22", "#17becf"];
	let tu = null; // the thread chart
	let threadStrokes = []; // its series' colours (uPlot keeps them as functions)
	let threadRange = null; // its time range: the run's, as the chart above
	let threadChoice = null; // [run index, pid] of the process shown
	let shownProc = null; // its data
	let threadPeaks = []; // the peaks drawn, in CSS pixels of the page, for tests

	// Every process with threads: [run index, its data], in the runs' order.
	function threadProcs() {
		const all = [];
		runs.forEach((run, r) => {
			if (run.threads && Array.isArray(run.threads.procs))
				run.threads.procs.forEach((p) => all.push([r, p]));
		});
		return all;
	}

	function threadValue(v) {
		if (v === null || v === undefined)
			return "–";
		return shownProc && shownProc.heap ? fmtBytes(v) : v.toFixed(1) + " %";
	}

	function threadColour(s, k) {
		const th = THEMES[theme];
		if (s.kind === "rss")
			return PALETTE[0];
		if (s.kind === "heap")
			return th.fg;
		if (s.kind === "other")
			return "#7f7f7f";
		return THREAD_COLOURS[k % THREAD_COLOURS.length];
	}

	function threadSize() {
		const w = Math.max(320, threadsChart.parentElement.clientWidth - 2);
		return { width: w, height: Math.max(220, Math.min(420, Math.round(w * 0.33))) };
	}

	// The peaks: a dot on each thread's line at its peak (between samples too, for the heap) and
	// its value beside it, right or left of the dot, above or below, where no other label is.
	function drawThreadPeaks(u) {
		const ctx = u.ctx, th = THEMES[theme], { left, top, width, height } = u.bbox;
		const dpr = devicePixelRatio, box0 = u.ctx.canvas.getBoundingClientRect();
		threadPeaks = [];
		if (!shownProc)
			return;
		ctx.save();
		ctx.beginPath();
		ctx.rect(left, top, width, height);
		ctx.clip();
		ctx.font = "bold " + Math.round(11 * dpr) + "px sans-serif";
		ctx.textBaseline = "middle";
		ctx.textAlign = "left"; // uPlot leaves the axes' alignment
		const placed = [];
		shownProc.series.forEach((s, k) => {
			if (s.peak === null || s.peak === undefined || !u.series[k + 1].show)
				return;
			const x = u.valToPos(s.peak_t, "x", true), y = u.valToPos(s.peak, "y", true);
			const colour = threadStrokes[k + 1];
			ctx.fillStyle = colour;
			ctx.strokeStyle = th.bg;
			ctx.lineWidth = 1.5 * dpr;
			ctx.beginPath();
			ctx.arc(x, y, 4 * dpr, 0, 2 * Math.PI);
			ctx.fill();
			ctx.stroke();
			const text = "peak " + threadValue(s.peak);
			const w = ctx.measureText(text).width, h = 14 * dpr;
			let box = null;
			for (const dy of [-9, 9, -23, 23, -37]) {
				for (const dx of [8, -8 - w / dpr]) {
					const b = { x: x + dx * dpr, y: y + dy * dpr - h / 2, w, h };
					const inside = b.x >= left && b.x + w <= left + width && b.y >= top &&
						b.y + h <= top + height;
					const free = placed.every((o) => b.x + b.w <= o.x || o.x + o.w <= b.x ||
						b.y + b.h <= o.y || o.y + o.h <= b.y);
					if (inside && free) {
						box = b;
						break;
					}
				}
				if (box)
					break;
			}
			const peak = { name: s.name, text, t: s.peak_t, v: s.peak, x: box0.left + x / dpr,
				y: box0.top + y / dpr, label: null };
			if (box) {
				placed.push(box);
				ctx.globalAlpha = 0.8;
				ctx.fillStyle = th.bg;
				ctx.fillRect(box.x - 1, box.y, box.w + 2, box.h);
				ctx.globalAlpha = 1;
				ctx.fillStyle = colour;
				ctx.fillText(text, box.x, box.y + box.h / 2);
				peak.label = { x: box0.left + box.x / dpr, y: box0.top + box.y / dpr,
					w: box.w / dpr, h: box.h / dpr };
			}
			threadPeaks.push(peak);
		});
		ctx.restore();
	}

	// The tooltip: the line nearest the cursor at its time, its name, value and the time.
	function showThreadTip(u) {
		const idx = u.cursor.idx, cy = u.cursor.top;
		if (idx === null || idx === undefined || cy === undefined || cy < 0 || !shownProc) {
			threadsTip.hidden = true;
			return;
		}
		let best = null;
		for (let k = 1; k < u.series.length; k++) {
			const v = u.data[k][idx];
			if (v === null || v === undefined || !u.series[k].show)
				continue;
			const d = Math.abs(u.valToPos(v, "y") - cy);
			if (best === null || d < best[0])
				best = [d, k, v];
		}
		if (best === null || best[0] > 40) {
			threadsTip.hidden = true;
			return;
		}
		threadsTip.replaceChildren();
		const row = el("div", null, "tip-row");
		row.append(el("span", shownProc.series[best[1] - 1].name, "tip-label"));
		row.append(el("span", threadValue(best[2]) + " at " + fmtSecs(u.data[0][idx]),
			"tip-where"));
		threadsTip.append(row);
		threadsTip.hidden = false;
		const wrapRect = threadsTip.parentElement.getBoundingClientRect();
		const o = u.over.getBoundingClientRect();
		let x = o.left - wrapRect.left + u.cursor.left + 12;
		if (x + threadsTip.offsetWidth > wrapRect.width)
			x = Math.max(0, o.left - wrapRect.left + u.cursor.left - threadsTip.offsetWidth - 12);
		threadsTip.style.left = x + "px";
		threadsTip.style.top = (o.top - wrapRect.top + Math.max(0, cy - 10)) + "px";
	}

	// Draws the thread view of the chosen process (the one memline opened it on, first);
	// rebuild makes its chart again (another process, the theme).
	function renderThreads(rebuild) {
		const all = threadProcs();
		threadsSection.hidden = !all.length;
		if (!all.length) {
			if (tu)
				tu.destroy();
			tu = null;
			shownProc = null;
			return;
		}
		const find = (c) => all.find(([r, p]) => c && r === c[0] && p.pid === c[1]);
		if (!find(threadChoice)) {
			const r0 = runs.findIndex((run) => run.threads);
			threadChoice = [r0, runs[r0].threads.pid];
			if (!find(threadChoice))
				threadChoice = [all[0][0], all[0][1].pid];
		}
		threadsPick.hidden = all.length < 2;
		threadsProc.replaceChildren();
		all.forEach(([r, p], k) => {
			const o = el("option", (multi ? runs[r].label + " · " : "") + p.pid + " " + p.comm +
				" (" + p.threads + " thread" + (p.threads === 1 ? "" : "s") +
				(p.heap ? ", heap)" : ", CPU)"));
			o.value = String(k);
			o.selected = r === threadChoice[0] && p.pid === threadChoice[1];
			threadsProc.append(o);
		});
		const [r, p] = find(threadChoice);
		const names = (q) => q.series.map((s) => s.name).join("\n");
		const changed = shownProc === null || shownProc.pid !== p.pid ||
			names(shownProc) !== names(p);
		shownProc = p;
		threadsTitle.textContent = "Threads of " + p.pid + " " + p.comm;
		const dropped = runs[r].threads.dropped;
		threadsWhat.textContent = (p.heap ? "each thread's live heap (what it allocated and " +
			"is not freed yet), the process's heap and RSS; a dot at each thread's peak" :
			"each thread's CPU, % of one core (no heap numbers for this process)") +
			(dropped ? "; " + dropped + " more processes with threads not shown" : "");
		const data = [p.t].concat(p.series.map((s) => s.v));
		const end = Math.max(runs[r].duration || 0, p.t.length ? p.t[p.t.length - 1] : 0);
		threadRange = { min: 0, max: end > 0 ? end : 1 };
		if (tu && !rebuild && !changed) {
			tu.setData(data);
			tu.setScale("x", threadRange);
			return;
		}
		const th = THEMES[theme];
		const axis = axisStyle(th);
		let threadIndex = 0;
		const ser = [{ label: "Time", value: (u, v) => (v === null ? "–" : fmtSecs(v)) }];
		threadStrokes = [null];
		p.series.forEach((s) => {
			const colour = threadColour(s, s.kind === "thread" ? threadIndex++ : 0);
			threadStrokes.push(colour);
			ser.push({
				label: s.name,
				stroke: colour,
				width: s.kind === "rss" ? 2.5 : s.kind === "heap" ? 1.75 : 1.5,
				dash: s.kind === "heap" ? [6, 3] : s.kind === "other" ? [4, 3] : undefined,
				spanGaps: true,
				points: { show: false },
				value: (u, v) => threadValue(v),
			});
		});
		const hidden = tu && !changed ?
			new Set(tu.series.filter((s) => !s.show).map((s) => s.label)) : null;
		if (hidden)
			ser.forEach((s) => (s.show = !hidden.has(s.label)));
		if (tu)
			tu.destroy();
		tu = new uPlot({
			...threadSize(),
			series: ser,
			scales: { x: { time: false } },
			axes: [
				{ ...axis, values: (u, splits, ai, space, incr) => timeLabels(u, splits, incr),
					incrs: TIME_INCRS },
				{ ...axis, size: 80, values: (u, splits) => splits.map(threadValue),
					incrs: p.heap ? BYTE_INCRS : undefined },
			],
			cursor: { drag: { x: true, y: false, setScale: true } },
			legend: { live: true },
			hooks: { draw: [drawThreadPeaks], setCursor: [showThreadTip] },
		}, data, threadsChart);
		tu.setScale("x", threadRange);
		// a double click shows the whole run again, not only the times with a point
		tu.over.addEventListener("dblclick", () => tu.setScale("x", threadRange));
	}
	threadsProc.addEventListener("change", () => {
		const pick = threadProcs()[Number(threadsProc.value)];
		if (!pick)
			return;
		threadChoice = [pick[0], pick[1].pid];
		threadsTip.hidden = true;
		renderThreads(true);
	});

	// Where the line named name is at time t (its point there, else the last before), in CSS
	// pixels of the page; null when it has none (for tests).
	function threadPoint(name, t) {
		if (!tu || !shownProc)
			return null;
		const k = shownProc.series.findIndex((s) => s.name === name);
		if (k < 0)
			return null;
		let i = -1;
		shownProc.t.forEach((x, j) => {
			if (x <= t + 1e-9 && shownProc.series[k].v[j] !== null)
				i = j;
		});
		if (i < 0)
			return null;
		const o = tu.over.getBoundingClientRect();
		// inside the plot area: a point at its right edge belongs to the area's outside
		const clamp = (p, max) => Math.min(Math.max(p, 0), max - 1);
		return { x: o.left + clamp(tu.valToPos(shownProc.t[i], "x"), o.width),
			y: o.top + clamp(tu.valToPos(shownProc.series[k].v[i], "y"), o.height) };
	}

	// ---- summary and tables ----

	function renderTables() {
		const titleText = data.title || "memline: " + (runs[0].command || runs[0].path) +
			(multi ? " and " + (runs.length - 1) + " more" : "");
		document.title = titleText;
		document.getElementById("title").textContent = titleText;

		function table(head, rows) {
			const t = el("table");
			const tr = el("tr");
			head.forEach((h) => tr.append(el("th", h)));
			t.append(el("thead"));
			t.tHead.append(tr);
			const body = el("tbody");
			rows.forEach((row) => {
				const r = el("tr");
				row.forEach((c) => {
					if (c instanceof Node) {
						const td = el("td");
						td.append(c);
						r.append(td);
					} else {
						r.append(el("td", c));
					}
				});
				body.append(r);
			});
			t.append(body);
			return t;
		}

		const summary = document.getElementById("summary");
		summary.replaceChildren(summary.querySelector("h2"));
		runs.forEach((run, r) => {
			const dl = el("dl", null, "summary");
			const add = (k, v, cls) => {
				dl.append(el("dt", k));
				dl.append(el("dd", v, cls));
			};
			if (multi)
				summary.append(el("h3", run.label + " — " + run.path));
			add("Command", run.command);
			add("Log", run.path);
			add("Host", run.host);
			add("Started", run.start);
			const bad = ["failed", "killed", "oom-killed", "incomplete"].includes(run.status);
			add("Ended", run.ending, bad ? "bad" : "good");
			add("Duration", fmtSecs(run.duration));
			if (run.memory) {
				// the job's memory first, by its method; the RSS sum where it differs
				add("Peak memory", run.job_peak === null ? "?" : fmtBytes(run.job_peak) +
					" at " + fmtSecs(run.job_peak_t) + " (" + run.memory.words + ")");
				if (run.peak !== null && run.peak !== run.job_peak)
					add("RSS sum", fmtBytes(run.peak) + " at " + fmtSecs(run.peak_t) +
						" (each process's RSS added up: shared pages once per process)");
			} else {
				add("Peak RSS", run.peak === null ? "?" : fmtBytes(run.peak) + " at " +
					fmtSecs(run.peak_t));
			}
			add("Processes", run.procs);
			add("Samples", run.samples);
			summary.append(dl);
			run.warnings.forEach((w) => summary.append(el("p", "warning: " + w, "bad")));
		});

		const events = document.getElementById("events");
		events.replaceChildren(events.querySelector("h2"));
		const evRows = [];
		let evTotal = 0;
		runs.forEach((run, r) => {
			run.events.forEach((e) => {
				evTotal++;
				if (evRows.length < MAX_ROWS)
					evRows.push((multi ? [run.label] : []).concat([fmtSecs(e.t), e.label,
						e.pid === null ? "" : String(e.pid), fmtBytes(e.rss)]));
			});
		});
		if (evTotal) {
			events.append(table((multi ? ["Run"] : []).concat(["Time", "Event", "PID", "Tree RSS"]),
				evRows));
			if (evTotal > evRows.length)
				events.append(el("p", "… and " + (evTotal - evRows.length) + " more", "muted"));
		} else {
			events.append(el("p", "No events.", "muted"));
		}

		// Phases, with whose thread each is when they come from more than one (as in the text
		// report); the memory columns are the whole tree's, not the thread's.
		const phases = document.getElementById("phases");
		phases.replaceChildren(phases.querySelector("h2"));
		const spRows = [];
		const thread = (s) => (s.pid === null || s.pid === undefined ? "?" : s.pid) + "/" +
			(s.tid === null || s.tid === undefined ? "?" : s.tid);
		const threads = new Set();
		runs.forEach((run) => run.spans.forEach((s) => threads.add(thread(s))));
		const byThread = threads.size > 1;
		runs.forEach((run, r) => {
			run.spans.slice(0, MAX_ROWS).forEach((s) => {
				const name = el("span", s.name);
				name.style.paddingLeft = s.depth * 1.2 + "em";
				spRows.push((multi ? [run.label] : []).concat(byThread ? [thread(s)] : [], [name,
					fmtSecs(s.start), fmtSecs(s.end) + (s.open ? " (open)" : ""),
					fmtSecs(s.end - s.start), fmtBytes(s.peak_rss), s.rss_change === null ? "?" :
						(s.rss_change < 0 ? "-" : "+") + fmtBytes(Math.abs(s.rss_change))]));
			});
		});
		if (spRows.length) {
			phases.append(table((multi ? ["Run"] : []).concat(byThread ? ["PID/TID"] : [],
				["Phase", "Start", "End", "Duration", "Tree peak", "Tree RSS change"]), spRows));
			phases.append(el("p", "Tree peak and tree RSS change are the whole process tree's " +
				"RSS during each phase (every process, not only the phase's thread).", "muted"));
		}
		phases.hidden = !spRows.length;
	}
	renderTables();

	makeChart(full);
	renderThreads(true);
	showNear({ cursor: { left: -1 } });
	nearLines.append(el("li", "hover over the chart to see the captured output near that time",
		"muted"));

	// ---- following a recording (a page served by memline) ----

	let liveState = null;
	let updates = 0;

	// Takes newly fetched data: redraws the chart, keeping a zoomed range, and the tables.
	function update(next) {
		if (!next || !Array.isArray(next.runs) || next.runs.length !== runs.length)
			return;
		const eps = 1e-9 * Math.max(1, full.max);
		const { min, max } = u.scales.x;
		const zoomed = min > full.min + eps || max < full.max - eps;
		const labels = series.map((s) => s.label).join("\n");
		data = next;
		runs = next.runs;
		buildSeries();
		const range = zoomed ? { min, max } : full;
		if (series.map((s) => s.label).join("\n") !== labels) {
			makeChart(range);
		} else {
			u.setData(aligned, false);
			u.setScale("x", range);
		}
		renderTables();
		renderThreads(false);
		if (openCapture !== null) {
			if (openCapture[1] < capturesOf(runs[openCapture[0]]).length)
				showStacks(openCapture[0], openCapture[1]);
			else
				closeStacks();
		}
		lastNear = null;
		updates++;
	}

	let following = () => false; // whether the page still listens or fetches

	function follow() {
		const ind = document.getElementById("live-state");
		const setState = (state) => {
			liveState = state;
			ind.textContent = state;
			ind.className = "live-state " + state;
			ind.hidden = false;
		};
		if (runs[0].status !== "running") {
			setState("ended");
			return;
		}
		setState("live");
		const THROTTLE = 500; // ms between fetches of the data, at least
		let timer = 0, busy = false, again = false, last = 0, done = false;
		async function fetchData() {
			timer = 0;
			busy = true;
			last = Date.now();
			try {
				const r = await fetch("/data.json", { cache: "no-store" });
				const next = r.ok ? await r.json() : null;
				if (next && !done) // the end's data came meanwhile: keep it
					update(next);
			} catch (e) {
				// the server went away: the stream's error handler says so
			}
			busy = false;
			if (again && !done) {
				again = false;
				refresh();
			}
		}
		function refresh() {
			if (done)
				return;
			if (busy) {
				again = true;
				return;
			}
			if (!timer)
				timer = setTimeout(fetchData, Math.max(0, last + THROTTLE - Date.now()));
		}
		// No more fetching or listening: the run ended, or the server is going.
		function finish(state, next) {
			done = true;
			es.close();
			clearTimeout(timer);
			timer = 0;
			if (next)
				update(next);
			setState(state);
		}
		// final=1: the stream's last message, "end", carries the data as the run ended
		const es = new EventSource("/events?final=1");
		es.onopen = () => {
			setState("live");
			refresh(); // what came between the page and the stream
		};
		es.onmessage = (e) => {
			let rec = null;
			try {
				rec = JSON.parse(e.data);
			} catch (err) {
				return;
			}
			// the end record: its data comes with the "end" message, no fetch for it
			if (rec && rec.type === "end") {
				done = true;
				clearTimeout(timer);
				timer = 0;
				return;
			}
			refresh();
		};
		es.addEventListener("end", (e) => {
			let next = null;
			try {
				next = JSON.parse(e.data);
			} catch (err) {
				// keep what is drawn
			}
			finish("ended", next && Array.isArray(next.runs) ? next : null);
		});
		es.addEventListener("stop", () => finish("stopped", null));
		es.onerror = () => {
			if (liveState === "ended" || liveState === "stopped")
				return;
			setState(es.readyState === EventSource.CLOSED ? "ended" : "offline");
		};
		following = () => es.readyState !== EventSource.CLOSED || busy || timer !== 0;
	}
	if (data.live)
		follow();

	// For tests and the curious: the chart, where each event is drawn, the live state, and
	// whether the page still follows the server (listening or fetching).
	window.memlineReport = Object.freeze({ chart: () => u, eventPoint, capturePoint,
		openCapture: () => openCapture && openCapture.slice(), live: () => liveState,
		updates: () => updates, following: () => following(),
		spanLabels: () => ({ labels: spanLabels.slice(),
			skipped: spanLabels.skipped || 0 }),
		timeTicks: () => ({ splits: lastTimeTicks.splits.slice(),
			labels: lastTimeTicks.labels.slice() }),
		threadView: () => ({ shown: !threadsSection.hidden,
			choice: threadChoice && threadChoice.slice(), picker: !threadsPick.hidden,
			options: Array.from(threadsProc.options).map((o) => o.textContent),
			title: threadsTitle.textContent, what: threadsWhat.textContent,
			series: tu ? tu.series.slice(1).map((s) => s.label) : [],
			peaks: threadPeaks.map((p) => ({ ...p })) }),
		threadPoint });
})();
