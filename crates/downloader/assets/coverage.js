// The coverage page's script: builds the header and the aggregate rows from the data block, expands rows on click or
// from `#expand=exchange/data_type[,...]`, paginates instruments, and shows a tooltip on hover.
"use strict";
(function () {
  var data = JSON.parse(document.getElementById("coverage-data").textContent);
  var grid = document.getElementById("grid");
  var tip = document.getElementById("tip");
  var N = data.days, PAGE = data.page_rows;
  var statusByCode = {};
  data.statuses.forEach(function (s, i) { s.index = i; statusByCode[s.code] = s; });
  var cellHtml = { ".": '<i class="c st-none"></i>' };
  var gapCodes = data.statuses.filter(function (s) { return s.gap; }).map(function (s) { return s.code; }).join("");
  var gapPattern = new RegExp("[" + gapCodes + "]");
  data.statuses.forEach(function (s) { cellHtml[s.code] = '<i class="c st-' + s.key + '"></i>'; });
  var start = Date.parse(data.from + "T00:00:00Z");
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  function dayOf(i) { return new Date(start + i * 86400000); }
  function iso(i) { return dayOf(i).toISOString().slice(0, 10); }
  function human(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], v = n, u = 0;
    while (v >= 1024 && u + 1 < units.length) { v /= 1024; u++; }
    return u === 0 ? n + " B" : v.toFixed(1) + " " + units[u];
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // A cell whose file has crossed rows or local_timestamp disorder carries the marker class.
  var markedHtml = { ".": cellHtml["."] };
  data.statuses.forEach(function (s) { markedHtml[s.code] = '<i class="c st-' + s.key + ' mk"></i>'; });
  function cells(codes, marked) {
    var parts = new Array(codes.length);
    for (var i = 0; i < codes.length; i++) parts[i] = (marked && marked(i) ? markedHtml : cellHtml)[codes.charAt(i)];
    var div = el("div", "cells");
    div.innerHTML = parts.join("");
    return div;
  }

  var headerWidth = parseFloat(getComputedStyle(grid).getPropertyValue("--rh")) || 390;
  var cw = Math.max(14, Math.min(72, Math.floor((grid.clientWidth - headerWidth - 2) / N)));
  grid.style.setProperty("--cw", cw + "px");

  var hdr = el("div", "row hdr");
  hdr.appendChild(el("div", "rh", "exchange · data type"));
  var days = el("div", "days");
  days.style.width = N * cw + "px";
  var lastMonth = -1e9, lastDay = -1e9, step = Math.ceil(20 / cw);
  for (var i = 0; i < N; i++) {
    var d = dayOf(i), x = i * cw;
    if ((i === 0 || d.getUTCDate() === 1) && x - lastMonth >= 64) {
      var mo = el("span", "mo", MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear());
      mo.style.left = x + "px";
      days.appendChild(mo);
      lastMonth = x;
    }
    if ((d.getUTCDate() - 1) % step === 0 && x - lastDay >= 20) {
      var dd = el("span", "dd", (cw >= 44 ? WEEKDAYS[d.getUTCDay()] + " " : "") + d.getUTCDate());
      dd.style.left = x + "px";
      dd.title = iso(i) + " " + WEEKDAYS[d.getUTCDay()];
      days.appendChild(dd);
      lastDay = x;
    }
  }
  data.days_not_exported.forEach(function (i) {
    var mark = el("span", "dne");
    mark.style.left = i * cw + "px";
    mark.title = iso(i) + ": nothing exported yet";
    days.appendChild(mark);
  });
  hdr.appendChild(days);
  grid.appendChild(hdr);

  var exchanges = {};
  data.rows.forEach(function (row) {
    var e = exchanges[row.exchange] || (exchanges[row.exchange] = { rows: 0, keys: 0, bytes: 0 });
    e.rows++;
    e.keys += row.keys.length;
    e.bytes += row.bytes;
  });
  var lastExchange = null;
  var rows = data.rows.map(function (row, r) {
    if (row.exchange !== lastExchange) {
      lastExchange = row.exchange;
      var e = exchanges[row.exchange];
      var group = el("div", "row grp");
      group.dataset.exchange = row.exchange;
      var gh = el("div", "rh");
      gh.appendChild(el("span", "name", row.exchange));
      gh.appendChild(el("span", "sum", e.rows + " data type(s) · " + human(e.bytes)));
      group.appendChild(gh);
      grid.appendChild(group);
    }
    var div = el("div", "row agg");
    div.dataset.row = r;
    div.dataset.exchange = row.exchange;
    div.dataset.dataType = row.data_type;
    div.setAttribute("role", "row");
    var rh = el("div", "rh");
    var tog = el("button", "tog", "▸");
    tog.setAttribute("aria-expanded", "false");
    tog.setAttribute("aria-label", "show the instruments of " + row.exchange + " " + row.data_type);
    rh.appendChild(tog);
    rh.appendChild(el("span", "name", row.data_type));
    rh.appendChild(el("span", "sum", row.keys.length + (row.keys.length === 1 ? " instrument · " : " instruments · ") + human(row.bytes)));
    rh.title = row.exchange + " · " + row.data_type + ": " + row.keys.length + " instrument(s), " +
      row.units.reduce(function (a, b) { return a + b; }, 0) + " unit(s), " + human(row.bytes) + " stored";
    div.appendChild(rh);
    var strip = cells(row.worst, function (d) { return row.day_marked[d] > 0; });
    div.appendChild(strip);
    grid.appendChild(div);
    // A cell whose worst status is not "stored and verified" but that has verified units shows their share as a
    // green base, at most two thirds of the cell, so the worst colour always shows.
    for (var d = 0; d < N; d++) {
      var counts = row.day_units[d], total = counts.reduce(function (a, b) { return a + b; }, 0);
      if (counts[0] > 0 && counts[0] < total) {
        var share = Math.min(67, Math.round(100 * counts[0] / total));
        // Over the status's own pattern (empty, not offered, not yet exported), which a plain colour does not have.
        var cell = strip.children[d], pattern = getComputedStyle(cell).backgroundImage;
        cell.style.backgroundImage = "linear-gradient(to top, var(--verified) " + share + "%, transparent " + share + "%)" +
          (pattern && pattern !== "none" ? ", " + pattern : "");
      }
    }
    var block = el("div", "block");
    block.dataset.row = r;
    block.hidden = true;
    grid.appendChild(block);
    div.addEventListener("click", function () { toggle(r); });
    return { data: row, div: div, tog: tog, block: block, open: false, page: 0, problems: false, sizes: null, facts: null };
  });

  function problemOnly(row) {
    var list = [];
    for (var k = 0; k < row.data.keys.length; k++) {
      var s = row.data.status.substr(k * N, N);
      if (gapPattern.test(s)) list.push(k);
    }
    return list;
  }
  function renderBlock(row) {
    var block = row.block;
    block.textContent = "";
    var list = row.problems ? problemOnly(row) : null;
    var count = list ? list.length : row.data.keys.length;
    var pages = Math.max(1, Math.ceil(count / PAGE));
    row.page = Math.min(row.page, pages - 1);
    var first = row.page * PAGE, last = Math.min(count, first + PAGE);
    var pager = el("div", "pager");
    var ph = el("div", "rh");
    var prev = el("button", "prev", "◂"), next = el("button", "next", "▸");
    prev.disabled = row.page === 0;
    next.disabled = row.page >= pages - 1;
    prev.addEventListener("click", function (e) { e.stopPropagation(); row.page--; renderBlock(row); });
    next.addEventListener("click", function (e) { e.stopPropagation(); row.page++; renderBlock(row); });
    ph.appendChild(prev);
    ph.appendChild(el("span", "range", count === 0 ? "no instrument" : "instruments " + (first + 1) + "–" + last + " of " + count));
    ph.appendChild(next);
    var label = el("label");
    var box = el("input");
    box.type = "checkbox";
    box.checked = row.problems;
    box.addEventListener("change", function () { row.problems = box.checked; row.page = 0; renderBlock(row); });
    label.appendChild(box);
    label.appendChild(document.createTextNode("problems only"));
    label.addEventListener("click", function (e) { e.stopPropagation(); });
    ph.appendChild(label);
    pager.appendChild(ph);
    block.appendChild(pager);
    for (var j = first; j < last; j++) {
      var k = list ? list[j] : j;
      var key = row.data.keys[k];
      var div = el("div", "row inst");
      div.dataset.row = row.div.dataset.row;
      div.dataset.instrument = key;
      div.dataset.index = k;
      var rh = el("div", "rh", key);
      rh.title = key;
      div.appendChild(rh);
      div.appendChild(cells(row.data.status.substr(k * N, N), flaggedAt(row, k * N)));
      block.appendChild(div);
    }
  }
  // A cell's file facts (see push_facts in page.rs): rows, first and last timestamp and local_timestamp (seconds
  // from the start of the cell's day), rows going backwards (local_timestamp, timestamp), malformed, crossed, locked.
  function factsAt(row, cell) {
    if (!row.facts) row.facts = row.data.facts.split(",");
    var text = row.facts[cell];
    if (!text) return null;
    var f = text.split(":").map(function (v) { return v === "" ? null : parseInt(v, 36); });
    return { rows: f[0], timestamp: [f[1], f[2]], local: [f[3], f[4]], localBack: f[5], back: f[6],
      malformed: f[7], crossed: f[8], locked: f[9] };
  }
  function flagged(facts) { return facts !== null && (facts.localBack > 0 || facts.crossed > 0); }
  function flaggedAt(row, first) { return function (d) { return flagged(factsAt(row, first + d)); }; }
  function moment(day, seconds) {
    if (seconds === null) return "?";
    var text = new Date(start + (day * 86400 + seconds) * 1000).toISOString();
    return (seconds >= 0 && seconds < 86400 ? "" : text.slice(0, 10) + " ") + text.slice(11, 19);
  }
  function factLines(facts, day) {
    var lines = ["rows: " + facts.rows + (facts.rows === 0 ? " (an empty file)" : "")];
    if (facts.rows > 0) {
      lines.push("local_timestamp: " + moment(day, facts.local[0]) + " – " + moment(day, facts.local[1]));
      lines.push("timestamp: " + moment(day, facts.timestamp[0]) + " – " + moment(day, facts.timestamp[1]));
    }
    lines.push("going backwards: local_timestamp " + facts.localBack + " row(s), timestamp " + facts.back + " row(s)");
    if (facts.crossed !== null) lines.push("crossed book: " + facts.crossed + " row(s), locked: " + facts.locked + " row(s)");
    if (facts.malformed > 0) lines.push("malformed timestamps: " + facts.malformed + " row(s)");
    return lines;
  }
  function syncHash() {
    var open = rows.filter(function (row) { return row.open; })
      .map(function (row) { return row.data.exchange + "/" + row.data.data_type; });
    var hash = open.length ? "#expand=" + open.join(",") : "";
    if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname + location.search);
  }
  function toggle(r, noSync) {
    var row = rows[r];
    row.open = !row.open;
    row.div.classList.toggle("open", row.open);
    row.tog.textContent = row.open ? "▾" : "▸";
    row.tog.setAttribute("aria-expanded", String(row.open));
    if (row.open) renderBlock(row); else row.block.textContent = "";
    row.block.hidden = !row.open;
    if (!noSync) syncHash();
  }
  function fromHash() {
    var match = /(?:^#|&)expand=([^&]*)/.exec(location.hash);
    if (!match) return;
    var wanted = decodeURIComponent(match[1]).split(",");
    rows.forEach(function (row, r) {
      if (!row.open && wanted.indexOf(row.data.exchange + "/" + row.data.data_type) >= 0) toggle(r, true);
    });
  }
  fromHash();

  function tipText(cell) {
    var rowDiv = cell.closest(".row");
    var row = rows[+rowDiv.dataset.row];
    var day = Array.prototype.indexOf.call(cell.parentNode.children, cell);
    var date = iso(day) + " " + WEEKDAYS[dayOf(day).getUTCDay()];
    var head = row.data.exchange + " · " + row.data.data_type;
    if (rowDiv.classList.contains("inst")) {
      var k = +rowDiv.dataset.index, code = row.data.status.charAt(k * N + day);
      if (!row.sizes) row.sizes = row.data.sizes.split(",");
      var size = row.sizes[k * N + day];
      var lines = [row.data.keys[k], head + " · " + date];
      lines.push(code === "." ? "no unit that day" : statusByCode[code].label + (size ? " · " + human(parseInt(size, 36)) : ""));
      var facts = factsAt(row, k * N + day);
      if (facts) lines = lines.concat(factLines(facts, day));
      else if (size) lines.push("facts: none recorded (see missing --json)");
      return lines.join("\n");
    }
    var counts = row.data.day_units[day], total = 0, out = [head + " · " + date];
    for (var s = data.statuses.length - 1; s >= 0; s--) {
      total += counts[s];
      if (counts[s] > 0) out.push(data.statuses[s].label + ": " + counts[s]);
    }
    if (total === 0) out.push("no unit that day");
    else out.splice(1, 0, total + " unit(s), worst: " + statusByCode[row.data.worst.charAt(day)].label);
    if (row.data.day_bytes[day] > 0) out.push("stored: " + human(row.data.day_bytes[day]));
    if (row.data.day_rows[day] > 0) out.push("rows: " + row.data.day_rows[day]);
    if (row.data.day_marked[day] > 0) out.push("files with crossed rows or disorder: " + row.data.day_marked[day]);
    return out.join("\n");
  }
  grid.addEventListener("mousemove", function (e) {
    var cell = e.target;
    if (!cell.classList || !cell.classList.contains("c")) { tip.hidden = true; return; }
    tip.textContent = tipText(cell);
    tip.hidden = false;
    var x = e.clientX + 14, y = e.clientY + 14;
    if (x + tip.offsetWidth > innerWidth - 4) x = e.clientX - tip.offsetWidth - 10;
    if (y + tip.offsetHeight > innerHeight - 4) y = e.clientY - tip.offsetHeight - 10;
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  });
  grid.addEventListener("mouseleave", function () { tip.hidden = true; });
})();
