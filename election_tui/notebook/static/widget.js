// election-tui's notebook widget: one plain ES module, no bundler, no dependencies.
//
// Everything from etcd arrives as text the kernel already escaped (model.display) and is set
// with textContent only: never innerHTML with data. A click sends a message to the kernel; the
// page changes when the effect comes back through etcd's watch, like any other client's.

const BUTTONS = [
  ["resign", "Resign", "resign, then revoke the lease"],
  ["expire", "Expire", "stop renewing: the key dies after the TTL"],
  ["crash", "Crash", "revoke the lease at once"],
  ["pause", "Pause", "pause the keep-alive (a partition)"],
  ["rejoin", "Rejoin", "campaign again with a new lease"],
  ["remove", "✕", "forget the candidate, revoking its lease"],
];
const KERNEL_SILENT_MS = 6500; // the kernel sends a heartbeat every 2 s

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function cell(row, text, cls) {
  const td = h("td", cls, text);
  row.appendChild(td);
  return td;
}

function ttlCell(row, deadline, granted, held) {
  // `held`: etcd's last answer, drawn as "≥N s" and never counted below it; `deadline`: a
  // countdown the page animates with its own clock; neither: unknown ("…") or no lease ("").
  const td = h("td", "etui-ttl-cell");
  row.appendChild(td);
  const isHeld = held !== null && held !== undefined;
  if (!isHeld && (deadline === null || deadline === undefined)) {
    td.textContent = deadline === null ? "…" : "";
    return td;
  }
  const box = h("span", "etui-ttl");
  if (isHeld) box.dataset.held = String(held);
  else box.dataset.deadline = String(deadline);
  box.dataset.granted = String(granted || 0);
  const bar = h("span", "etui-bar");
  bar.appendChild(h("span", "etui-fill"));
  box.appendChild(bar);
  box.appendChild(h("span", "etui-secs"));
  td.appendChild(box);
  return td;
}

function age(seconds) {
  if (!(seconds >= 0)) seconds = 0;
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, "0")}m`;
}

function table(headers) {
  const t = h("table", "etui-table");
  const head = h("tr");
  for (const label of headers) head.appendChild(h("th", null, label));
  t.createTHead().appendChild(head);
  t.appendChild(h("tbody"));
  return t;
}

function section(root, cls, title) {
  const box = h("section", `etui-panel ${cls}`);
  const header = h("header");
  const heading = h("span", "etui-title", title);
  header.appendChild(heading);
  box.appendChild(header);
  root.appendChild(box);
  return { box, header, heading };
}

function validLaunch(name, value, ttl, count) {
  if (!name.trim()) return "an election name is needed (not blank)";
  if (!/^\s*\d+\s*$/.test(ttl) || +ttl < 1 || +ttl > 86400) return "TTL: a whole number from 1 to 86400";
  if (!/^\s*\d+\s*$/.test(count) || +count < 1 || +count > 100) return "how many: a whole number from 1 to 100";
  if (new TextEncoder().encode(value).length > 1536 * 1024) return "the value is over etcd's 1.5 MiB request limit";
  return "";
}

function render({ model, el }) {
  const root = h("div", "etui");
  el.appendChild(root);

  // -- status line and banners ---------------------------------------------------------------
  const status = h("div", "etui-status");
  const banner = h("div", "etui-banner");
  banner.hidden = true;
  root.appendChild(status);
  root.appendChild(banner);
  const grid = h("div", "etui-grid");
  root.appendChild(grid);

  // -- elections -------------------------------------------------------------------------------
  const elections = section(grid, "etui-elections", "Elections");
  const filter = h("input", "etui-filter");
  filter.placeholder = "filter";
  filter.value = model.get("filter");
  const prev = h("button", "etui-page", "◀");
  const pageInfo = h("span", "etui-page-info");
  const next = h("button", "etui-page", "▶");
  elections.header.append(filter, prev, pageInfo, next);
  const electionsTable = table(["Election", "Leader", "Lease", "TTL", "Cands", "Terms", "Changed"]);
  elections.box.appendChild(electionsTable);

  // -- queue -----------------------------------------------------------------------------------
  const queue = section(grid, "etui-queue", "Queue");
  const queueTable = table(["#", "Value", "Lease", "TTL", "Who", "State"]);
  const queueMore = h("div", "etui-more");
  queue.box.append(queueTable, queueMore);

  // -- our candidates + launch form ----------------------------------------------------------
  const fleet = section(grid, "etui-fleet", "Our candidates");
  const fleetTable = table(["#", "Election", "Value", "State", "Keep-alive", ""]);
  fleet.box.appendChild(fleetTable);
  const form = h("form", "etui-launch");
  const inputs = {};
  for (const [key, label, value, size] of [
    ["name", "Election", "demo/e1", 16],
    ["value", "Value", "candidate", 10],
    ["ttl", "TTL (s)", "5", 3],
    ["count", "How many", "1", 3],
  ]) {
    const wrap = h("label", null, label + " ");
    const input = h("input");
    input.name = key;
    input.value = value;
    input.size = size;
    wrap.appendChild(input);
    form.appendChild(wrap);
    inputs[key] = input;
  }
  const launch = h("button", "etui-launch-button", "Launch");
  launch.type = "submit";
  form.appendChild(launch);
  const formError = h("div", "etui-form-error");
  fleet.box.append(form, formError);
  let nameTouched = false;

  // -- timeline --------------------------------------------------------------------------------
  const timeline = section(grid, "etui-timeline", "Timeline");
  const timelineList = h("ol", "etui-events");
  timeline.box.appendChild(timelineList);

  const notice = h("div", "etui-notice");
  root.appendChild(notice);

  // -- clocks: the kernel's deadlines, counted down with the browser's own clock -------------
  let kernelClock = 0;
  let receivedAt = performance.now();
  let lastUpdate = performance.now();
  const kernelNow = () => kernelClock + (performance.now() - receivedAt) / 1000;

  function tick() {
    const now = kernelNow();
    for (const box of root.querySelectorAll(".etui-ttl")) {
      const held = box.dataset.held;
      const granted = +box.dataset.granted || 1;
      if (held !== undefined) {
        const frac = Math.max(0, Math.min(1, +held / granted));
        box.firstChild.firstChild.style.width = `${(frac * 100).toFixed(1)}%`;
        box.classList.toggle("low", frac < 1 / 3);
        box.classList.toggle("mid", frac >= 1 / 3 && frac < 2 / 3);
        box.lastChild.textContent = +held >= 1 ? `≥${Math.floor(+held)}s` : "<1s";
        continue;
      }
      const deadline = +box.dataset.deadline;
      const remaining = deadline > 0 ? Math.max(0, deadline - now) : 0;
      const frac = Math.max(0, Math.min(1, remaining / granted));
      const fill = box.firstChild.firstChild;
      fill.style.width = `${(frac * 100).toFixed(1)}%`;
      box.classList.toggle("low", frac < 1 / 3);
      box.classList.toggle("mid", frac >= 1 / 3 && frac < 2 / 3);
      box.classList.toggle("gone", remaining <= 0);
      box.lastChild.textContent = remaining > 0 ? `${remaining.toFixed(1)}s` : "0s";
    }
    const wall = Date.now() / 1000;
    for (const td of root.querySelectorAll("[data-changed]")) {
      td.textContent = age(wall - +td.dataset.changed);
    }
    showBanner();
  }

  function showBanner() {
    const cluster = model.get("cluster") || {};
    const silent = performance.now() - lastUpdate;
    let text = "";
    let level = "";
    if (model.get("closed")) {
      text = "this dashboard is closed: run `dash = await notebook.start()` again";
      level = "closed";
    } else if (silent > KERNEL_SILENT_MS) {
      text = `no update from the kernel for ${Math.round(silent / 1000)} s: a blocking cell (time.sleep?) or the kernel is gone`;
      level = "kernel";
    } else if (cluster.connection && cluster.connection !== "connected") {
      text = `connection to etcd ${cluster.connection}${cluster.error ? ": " + cluster.error : ""} — retrying by itself`;
      level = "lost";
    }
    banner.hidden = !text;
    banner.textContent = text;
    banner.dataset.level = level;
    root.dataset.connection = level ? level : "connected";
  }

  // -- sections ----------------------------------------------------------------------------------
  function drawStatus() {
    const c = model.get("cluster") || {};
    const members = (c.members || []).map((m) => `${m.name}${m.leader ? "★" : ""}${m.up ? "" : "✗"}`).join(" ");
    const parts = [
      c.connection || "connecting",
      c.endpoint || "",
      c.prefix ? `prefix ${c.prefix}` : "",
      `rev ${c.revision || 0}`,
      c.version ? `etcd ${c.version}` : "",
      members,
      `${c.ours || 0} ours`,
    ];
    status.textContent = parts.filter(Boolean).join(" · ");
    status.dataset.revision = String(c.revision || 0);
    status.dataset.connection = c.connection || "connecting";
  }

  function drawElections() {
    const body = electionsTable.tBodies[0];
    const rows = model.get("elections") || [];
    const selected = model.get("selected");
    const fresh = document.createDocumentFragment();
    for (const r of rows) {
      const tr = h("tr");
      tr.dataset.id = r.id;
      tr.dataset.leader = r.leader === null ? "" : r.leader;
      if (r.id === selected) tr.classList.add("selected");
      cell(tr, r.name, "etui-name");
      cell(tr, r.leader === null ? "no leader" : r.leader, r.leader === null ? "etui-none" : "etui-value");
      cell(tr, r.lease ? "…" + r.lease.slice(-7) : "-", "etui-dim");
      ttlCell(tr, r.lease ? r.deadline : undefined, r.granted, r.lease ? r.held : undefined);
      cell(tr, r.cands, "etui-num");
      cell(tr, r.terms, "etui-num");
      const changed = cell(tr, "", "etui-dim");
      if (r.changed === null) {
        changed.textContent = r.since_rev !== null ? `r${r.since_rev} before start` : "before start";
      } else {
        changed.dataset.changed = String(r.changed);
      }
      tr.addEventListener("click", () => {
        model.set("selected", r.id);
        model.save_changes();
      });
      fresh.appendChild(tr);
    }
    body.replaceChildren(fresh);
    const count = model.get("election_count");
    const offset = model.get("offset");
    const limit = model.get("limit");
    elections.heading.textContent = `Elections (${count})`;
    pageInfo.textContent = count ? `${offset + 1}–${Math.min(count, offset + limit)}` : "0";
    prev.disabled = offset <= 0;
    next.disabled = offset + limit >= count;
    tick();
  }

  function drawQueue() {
    const q = model.get("queue") || {};
    queue.heading.textContent = q.name ? `Queue · ${q.name}` : "Queue";
    const fresh = document.createDocumentFragment();
    for (const r of q.rows || []) {
      const tr = h("tr");
      tr.dataset.state = r.state;
      if (r.leader) tr.classList.add("leader");
      if (r.stale) tr.classList.add("stale");
      cell(tr, r.pos === null ? "!" : r.leader ? "★" : String(r.pos), r.leader ? "etui-star" : "etui-num");
      const value = cell(tr, r.value, "etui-value");
      if (r.nested) value.appendChild(h("span", "etui-dim", ` ⤷${r.nested}`));
      cell(tr, r.lease ? "…" + r.lease.slice(-7) : "-", "etui-dim");
      ttlCell(tr, r.lease && !r.gone ? r.deadline : undefined, r.granted, r.lease && !r.gone ? r.held : undefined);
      cell(tr, r.ours === null ? "external" : `ours #${r.ours}`, r.ours === null ? "etui-dim" : "etui-ours");
      cell(tr, r.gone ? `${r.state} (key gone)` : r.stale ? `${r.state} (stale)` : r.state, `etui-state s-${r.state}`);
      fresh.appendChild(tr);
    }
    queueTable.tBodies[0].replaceChildren(fresh);
    queueMore.textContent = q.more ? `and ${q.more} more` : "";
    if (!nameTouched && q.name && document.activeElement !== inputs.name) inputs.name.value = q.name;
    tick();
  }

  function drawFleet() {
    const fresh = document.createDocumentFragment();
    for (const r of model.get("fleet") || []) {
      const tr = h("tr");
      tr.dataset.id = String(r.id);
      tr.dataset.state = r.state;
      tr.dataset.value = r.value;
      cell(tr, `#${r.id}`, "etui-num");
      cell(tr, r.election, "etui-name");
      cell(tr, r.value, "etui-value");
      const state = cell(tr, r.state + (r.paused ? " ⏸" : ""), `etui-state s-${r.state}`);
      if (r.error) state.title = r.error;
      ttlCell(tr, r.deadline === null ? undefined : r.deadline, r.granted);
      const actions = h("td", "etui-actions");
      for (const [action, label, help] of BUTTONS) {
        let name = action;
        let text = label;
        if (action === "pause" && r.paused) {
          name = "resume";
          text = "Resume";
        }
        const b = h("button", `etui-act etui-${name}`, text);
        b.type = "button";
        b.dataset.action = name;
        b.title = help;
        b.disabled = !r.actions.includes(name);
        b.addEventListener("click", () => {
          b.disabled = true; // until the effect comes back through the watch
          model.send({ action: name, id: r.id });
        });
        actions.appendChild(b);
      }
      tr.appendChild(actions);
      fresh.appendChild(tr);
    }
    fleetTable.tBodies[0].replaceChildren(fresh);
    fleet.heading.textContent = `Our candidates (${(model.get("fleet") || []).length})`;
    tick();
  }

  function drawTimeline() {
    const fresh = document.createDocumentFragment();
    for (const e of model.get("timeline") || []) {
      const li = h("li", `etui-event k-${e.kind}${e.history ? " etui-history" : ""}`);
      // A replayed entry has no time (etcd keeps none with a revision): its revision says when.
      const when = e.time === null ? "history" : new Date(e.time * 1000).toLocaleTimeString();
      li.appendChild(h("span", "etui-dim", `${when} r${e.rev} `));
      li.appendChild(h("span", "etui-kind", e.kind));
      li.appendChild(h("span", "etui-name", ` ${e.election} `));
      li.appendChild(h("span", "etui-value", e.value));
      fresh.appendChild(li);
    }
    timelineList.replaceChildren(fresh);
    drawTimelineHeading();
  }

  function drawTimelineHeading() {
    const c = model.get("cluster") || {};
    timeline.heading.textContent = c.history ? `Timeline · ${c.history}` : "Timeline";
  }

  function drawNotice() {
    const n = model.get("notice") || {};
    notice.textContent = n.text || "";
    notice.dataset.level = n.level || "";
  }

  function drawFormError() {
    formError.textContent = model.get("form_error") || "";
  }

  // -- the launch form: checked as you type, the kernel checks again ---------------------------
  function checkForm() {
    const problem = validLaunch(inputs.name.value, inputs.value.value, inputs.ttl.value, inputs.count.value);
    formError.textContent = problem;
    launch.disabled = Boolean(problem);
    return problem;
  }
  for (const input of Object.values(inputs)) input.addEventListener("input", checkForm);
  inputs.name.addEventListener("input", () => (nameTouched = true));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (checkForm()) return;
    model.send({
      action: "launch",
      name: inputs.name.value,
      value: inputs.value.value,
      ttl: inputs.ttl.value,
      count: inputs.count.value,
    });
  });

  // -- paging and filtering: the kernel sends only the page shown ------------------------------
  let filterTimer = 0;
  filter.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      model.set("filter", filter.value);
      model.set("offset", 0);
      model.save_changes();
    }, 200);
  });
  const page = (step) => {
    model.set("offset", Math.max(0, model.get("offset") + step * model.get("limit")));
    model.save_changes();
  };
  prev.addEventListener("click", () => page(-1));
  next.addEventListener("click", () => page(1));

  // -- wiring ----------------------------------------------------------------------------------
  const handlers = [
    ["change:clock", () => {
      kernelClock = model.get("clock");
      receivedAt = performance.now();
    }],
    ["change", () => {
      lastUpdate = performance.now();
    }],
    ["change:cluster", () => {
      drawStatus();
      drawTimelineHeading();
    }],
    ["change:elections change:selected change:election_count change:offset", drawElections],
    ["change:queue", drawQueue],
    ["change:fleet", drawFleet],
    ["change:timeline", drawTimeline],
    ["change:notice", drawNotice],
    ["change:form_error", drawFormError],
    ["change:closed", showBanner],
  ];
  for (const [event, fn] of handlers) model.on(event, fn);
  kernelClock = model.get("clock");
  drawStatus();
  drawElections();
  drawQueue();
  drawFleet();
  drawTimeline();
  drawNotice();
  const timer = setInterval(tick, 100);
  return () => {
    clearInterval(timer);
    clearTimeout(filterTimer);
    for (const [event, fn] of handlers) model.off(event, fn);
  };
}

export default { render };
