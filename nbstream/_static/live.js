// nbstream live view: a tiny anywidget ES module.
// Python sends throttled deltas ({seq, blocks, tail, reasoning, tools, status, ...}); finished
// Markdown blocks arrive once as sanitized HTML, only the open tail is replaced. Everything
// else (reasoning, tool arguments, status, errors, wire lines) is set as text, never as HTML.
// Each view keeps its own state and asks Python for the full state when it starts (and when
// it sees a gap in seq), so a view rendered late still shows everything. (State cannot live
// on `model`: anywidget hands initialize() and render() different proxies of the model.)

function newState() {
  return { seq: -1, blocks: [], tail: "", reasoning: "", reasoningDone: false, tools: {},
           status: "", quiet: null, state: "streaming", error: "", raw: [], elapsed0: null };
}

function applyMsg(st, msg) {
  if (msg.t === "reset") {  // the full state (raw lines are not resent); views redraw the blocks
    Object.assign(st, newState(), { raw: st.raw, elapsed0: st.elapsed0, resets: (st.resets || 0) + 1 });
  }
  if (typeof msg.seq === "number") st.seq = msg.seq;
  if (msg.blocks) st.blocks.push(...msg.blocks);
  if (msg.tail !== undefined) st.tail = msg.tail;
  if (msg.reasoning) st.reasoning += msg.reasoning;
  if (msg.reasoning_done) st.reasoningDone = true;
  for (const tool of msg.tools || []) {
    const t = st.tools[tool.i] || (st.tools[tool.i] = { name: "", args: "" });
    if (tool.name) t.name = tool.name;
    if (tool.args) t.args += tool.args;
  }
  if (msg.status !== undefined) st.status = msg.status;
  if (msg.state) st.state = msg.state;
  if (msg.error !== undefined) st.error = msg.error;
  if (msg.raw) { st.raw.push(...msg.raw); if (st.raw.length > 2000) st.raw.splice(0, st.raw.length - 2000); }
  if (msg.elapsed !== undefined) st.elapsed0 = { at: performance.now(), value: msg.elapsed };
  if (msg.quiet) st.quiet = msg.quiet;
}

function el(tag, cls, parent) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

function makeView(model, root) {
  root.classList.add("nbs");
  const prompt = el("details", "nbs-prompt", root);
  el("summary", null, prompt).textContent = "Prompt";
  const promptBody = el("div", "nbs-prompt-body", prompt);
  const reasoning = el("details", "nbs-reasoning", root);
  const reasoningSummary = el("summary", null, reasoning);
  const reasoningBody = el("div", "nbs-reasoning-body", reasoning);
  const tools = el("div", "nbs-tools", root);
  const answer = el("div", "nbs-answer", root);
  // JupyterLab's Markdown classes (style only), so the live answer looks like the final one
  const blocks = el("div", "nbs-blocks jp-RenderedHTMLCommon jp-RenderedMarkdown", answer);
  const tail = el("div", "nbs-tail jp-RenderedHTMLCommon jp-RenderedMarkdown", answer);
  const error = el("div", "nbs-error", root);
  const raw = el("details", "nbs-raw", root);
  el("summary", null, raw).textContent = "Wire (raw events)";
  const rawBody = el("pre", "nbs-raw-body", raw);
  const bar = el("div", "nbs-status", root);
  const statusText = el("span", "nbs-status-text", bar);
  const elapsedText = el("span", "nbs-elapsed", bar);
  const stop = el("button", "nbs-stop", bar);
  stop.textContent = "Stop";
  stop.addEventListener("click", () => { stop.disabled = true; model.send({ t: "stop" }); });
  let shownBlocks = 0, shownResets = 0, shownRaw = 0, reasoningOpened = false;

  return function update(st) {
    const promptHtml = model.get("prompt_html");
    prompt.hidden = !promptHtml;
    if (promptHtml && promptBody.dataset.src !== promptHtml) {
      promptBody.innerHTML = promptHtml;  // rendered and sanitized by nbstream
      promptBody.dataset.src = promptHtml;
    }
    reasoning.hidden = !st.reasoning;
    if (st.reasoning) {
      reasoningBody.textContent = st.reasoning;
      if (!reasoningOpened && !st.reasoningDone) { reasoning.open = true; reasoningOpened = true; }
      if (st.reasoningDone && reasoning.open && reasoningOpened !== "closed") {
        reasoning.open = false; reasoningOpened = "closed";
      }
      reasoningSummary.textContent = st.reasoningDone ? "Reasoning" : "Reasoning…";
    }
    const ids = Object.keys(st.tools);
    tools.hidden = ids.length === 0;
    for (const id of ids) {
      let card = tools.querySelector(`[data-i="${CSS.escape(id)}"]`);
      if (!card) {
        card = el("div", "nbs-tool", tools);
        card.dataset.i = id;
        el("div", "nbs-tool-name", card);
        el("pre", "nbs-tool-args", card);
      }
      card.firstChild.textContent = "🔧 " + (st.tools[id].name || "tool call");
      card.lastChild.textContent = st.tools[id].args;
    }
    if (shownBlocks > st.blocks.length || shownResets !== (st.resets || 0)) {
      blocks.textContent = ""; shownBlocks = 0; shownResets = st.resets || 0;
    }
    for (; shownBlocks < st.blocks.length; shownBlocks++) {
      blocks.insertAdjacentHTML("beforeend", st.blocks[shownBlocks]);  // rendered and sanitized by nbstream
    }
    if (tail.dataset.src !== st.tail) { tail.innerHTML = st.tail; tail.dataset.src = st.tail; }
    error.hidden = !st.error;
    error.textContent = st.error ? "⚠ " + st.error : "";
    raw.hidden = !model.get("show_raw");
    if (!raw.hidden) {
      if (shownRaw > st.raw.length) { rawBody.textContent = ""; shownRaw = 0; }
      if (shownRaw < st.raw.length) {
        rawBody.appendChild(document.createTextNode(st.raw.slice(shownRaw).join("\n") + "\n"));
        shownRaw = st.raw.length;
      }
    }
    setStatus(statusText, st);
    root.dataset.state = st.state;
    stop.hidden = !model.get("show_stop") || st.state !== "streaming";
  };
}

function elapsedNow(st) {
  return st.elapsed0.value + (performance.now() - st.elapsed0.at) / 1000;
}

function elapsedLabel(st) {
  if (!st.elapsed0 || st.state !== "streaming") return "";
  return `· ${elapsedNow(st).toFixed(1)} s`;  // the status bar's flex gap is the space before it
}

// After quiet.after seconds with no data the kernel's quiet line (nbstream/_status.py:
// what the run waits on, or "no data for N s") replaces the live one; N ticks here.
function setStatus(node, st) {
  let text = st.status;
  const q = st.quiet;
  if (q && st.elapsed0 && st.state === "streaming") {
    const silent = elapsedNow(st) - q.since;
    if (silent >= q.after) text = q.tail == null ? q.head : q.head + Math.floor(silent) + q.tail;
  }
  if (node.textContent !== text) node.textContent = text;
}

export default {
  render({ model, el: root }) {
    const st = newState();
    const update = makeView(model, root);
    const elapsed = root.querySelector(".nbs-elapsed");
    const statusText = root.querySelector(".nbs-status-text");
    const refresh = () => update(st);
    let resyncing = false;
    const resync = () => { resyncing = true; model.send({ t: "resync", seen: st.seq }); };
    const onMsg = (msg) => {
      if (msg.t === "reset") resyncing = false;
      else if (typeof msg.seq === "number" && msg.seq !== st.seq + 1 && !resyncing) resync();  // a gap
      applyMsg(st, msg);
      refresh();
    };
    model.on("msg:custom", onMsg);
    resync();  // what was sent before this view existed
    refresh();
    const timer = setInterval(() => { elapsed.textContent = elapsedLabel(st); setStatus(statusText, st); }, 100);
    model.on("change:show_stop", refresh);
    model.on("change:show_raw", refresh);
    model.on("change:prompt_html", refresh);
    return () => {
      clearInterval(timer);
      model.off("msg:custom", onMsg);
      model.off("change:show_stop", refresh);
      model.off("change:show_raw", refresh);
      model.off("change:prompt_html", refresh);
    };
  },
};
