// nbstream sweep view: progress, throughput, a few answers in flight, per-model latency, Stop.
// Python sets one small JSON trait (`state`, throttled); everything is placed as text
// (textContent), never as HTML, so nothing a model or a server wrote can become markup.

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function draw(root, st) {
  root.replaceChildren();
  const head = el("div", "nbs-sweep-head", st.line || "");
  root.appendChild(head);
  const bar = el("div", "nbs-sweep-bar");
  const fill = el("div", "nbs-sweep-fill");
  fill.style.width = `${Math.max(0, Math.min(100, Number(st.pct) || 0))}%`;
  bar.appendChild(fill);
  root.appendChild(bar);
  for (const row of st.rows || []) {
    const box = el("div", "nbs-sweep-row");
    box.appendChild(el("span", "nbs-sweep-label", row.label));
    if (row.fields !== undefined && row.fields !== null) box.appendChild(el("span", "nbs-sweep-fields", row.fields));
    box.appendChild(el("span", "nbs-sweep-text", row.text));
    root.appendChild(box);
  }
  if ((st.models || []).length) {
    const table = el("table", "nbs-sweep-models");
    const hr = el("tr");
    for (const h of ["model", "done", "failed", "ttft mean s", "e2el mean s", "tok/s"]) hr.appendChild(el("th", "", h));
    table.appendChild(hr);
    for (const m of st.models) {
      const tr = el("tr");
      for (const v of [m.model, m.done, m.failed, m.ttft, m.e2el, m.tps]) tr.appendChild(el("td", "", v));
      table.appendChild(tr);
    }
    root.appendChild(table);
  }
}

function render({ model, el: host }) {
  const root = el("div", "nbs-sweep");
  const body = el("div");
  const stop = el("button", "nbs-sweep-stop", "Stop");
  stop.addEventListener("click", () => { model.send({ t: "stop" }); stop.disabled = true; });
  root.appendChild(body);
  root.appendChild(stop);
  host.appendChild(root);
  const update = () => {
    let st = {};
    try { st = JSON.parse(model.get("state") || "{}"); } catch (e) { st = {}; }
    draw(body, st);
    stop.hidden = !!st.over || !model.get("show_stop");
  };
  model.on("change:state", update);
  update();
}

export default { render };
