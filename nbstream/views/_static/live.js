// nbstream live view: a tiny anywidget ES module.
// Python sends throttled deltas ({seq, blocks, tail, reasoning, tools, status, ...}); finished
// Markdown blocks arrive once as sanitized HTML, only the open tail is replaced. Everything
// else (reasoning, tool arguments, status, errors, wire lines) is set as text, never as HTML.
// Each view keeps its own state and asks Python for the full state when it starts (and when
// it sees a gap in seq), so a view rendered late still shows everything. (State cannot live
// on `model`: anywidget hands initialize() and render() different proxies of the model.)

const SILENT_MS = 4000;
const INTERRUPTED = "⚠ stream interrupted: no word from the kernel (restarted or stopped)";

function newState() {
  return { seq: -1, blocks: [], tail: "", reasoning: "", reasoningDone: false, tools: {},
           status: "", quiet: null, state: "streaming", error: "", raw: [], elapsed0: null };
}

function applyMsg(st, msg) {
  if (msg.t === "reset") {  // the full state (raw lines are not resent); views redraw the blocks
    Object.assign(st, newState(), { raw: st.raw, elapsed0: st.elapsed0, resets: (st.resets || 0) + 1 });
  }
  if (typeof msg.seq === "number") st.seq = msg.seq;
  if (msg.replace) { st.blocks = []; st.resets = (st.resets || 0) + 1; }  // the final frame: the whole answer
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
  // the classes of the saved answer's wrapper (Lab's HTML output), so both lay out the same
  root.classList.add("nbs", "jp-RenderedHTMLCommon", "jp-RenderedHTML");
  const title = el("div", "nbs-title", root);
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
    title.hidden = !model.get("title");
    title.textContent = model.get("title");
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
    if (st.silent) statusText.textContent = INTERRUPTED;
    else setStatus(statusText, st);
    root.dataset.state = st.silent ? "interrupted" : st.state;
    stop.hidden = !model.get("show_stop") || st.state !== "streaming" || !!st.silent;
  };
}

// The seamless end: the kernel displays the static answer (an element carrying
// data-nbs-final=<final_id>) right after this view's output, then empties this output.
// The moment that answer enters the page, this view hides its own output, in the same
// task (a MutationObserver callback runs before the next frame is painted), so no frame
// shows the answer twice, none shows it nowhere, and the height does not jump.
// The kernel also keeps the partial answer in a fallback output (data-nbs-partial) for
// a notebook saved after the kernel died mid-stream: hidden while this view lives.
function outputBox(node) {
  return node.closest(".jp-OutputArea-child, .output_area") || node;
}

function watchOutputs(model, root) {
  const id = model.get("final_id");
  if (!id) return () => {};
  const finalSel = `[data-nbs-final="${CSS.escape(id)}"]`;
  const partialSel = `[data-nbs-partial="${CSS.escape(id)}"]`;
  const hidden = new Set();
  let observer = null, raf = 0, done = false;
  const hideSelf = () => {
    done = true;
    const box = outputBox(root);
    box.style.display = "none";
    box.dataset.nbsReplaced = id;
    if (observer) observer.disconnect();
  };
  const hidePartials = (scope) => {
    const found = scope.matches && scope.matches(partialSel) ? [scope] : [...scope.querySelectorAll(partialSel)];
    for (const node of found) {
      const box = outputBox(node);
      if (!box.contains(root)) { box.style.display = "none"; hidden.add(box); }
    }
  };
  const start = () => {
    if (done) return;
    if (!root.isConnected) { raf = requestAnimationFrame(start); return; }
    hidePartials(document);
    if (document.querySelector(finalSel)) { hideSelf(); return; }
    const scope = root.closest(".jp-OutputArea, .output_wrapper, .output") || document.body;
    observer = new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) {
          if (node.nodeType !== 1) continue;
          hidePartials(node);
          if (node.matches(finalSel) || node.querySelector(finalSel)) { hideSelf(); return; }
        }
      }
    });
    observer.observe(scope, { childList: true, subtree: true });
  };
  start();
  return () => {  // the view is going (its output emptied, or the kernel gone): show the fallback
    done = true;
    cancelAnimationFrame(raf);
    if (observer) observer.disconnect();
    for (const box of hidden) box.style.display = "";
  };
}

// A kernel killed mid-stream (kill -9, out of memory) cannot drop its widget reference from
// the cell as a restarting one does (live.py, _at_exit): the saved notebook would reopen on
// "Error displaying widget: model not found". JupyterLab's and Notebook 7's widget manager
// disconnects every model when the server restarts a dead kernel (the only time it sets
// comm_live, so the only "comm_live_update"); if this view is still streaming then, it
// replaces its own output in the notebook's model, as the kernel would have: by nothing
// when the cell holds the fallback output (the partial answer, saved every 2 s), else by
// a plain-text notice; a --compare pane replaces its grid's output (no fallback there:
// the notice). Other front ends (no document behind the manager) keep the "stream
// interrupted" view.
const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";
const KILLED = "⚠ stream interrupted: the kernel stopped before any of the answer was saved";

function dropOnDeath(model, st) {
  const manager = model.widget_manager;
  const cells = manager && manager.context && manager.context.model && manager.context.model.cells;
  const id = model.get("final_id");
  if (!cells || typeof cells.get !== "function" || typeof manager.has_model !== "function" || !id) {
    return () => {};
  }
  const partialMark = `data-nbs-partial="${id}"`;
  const ours = async (ref) => {
    if (!ref || !ref.model_id || !manager.has_model(ref.model_id)) return false;  // (get_model waits 2 s)
    try {
      const m = await manager.get_model(ref.model_id);
      if (m.comm_live) return false;
      if (m.get("final_id") === id) return true;
      const children = m.get("children");  // a --compare grid holds its panes
      return Array.isArray(children) && children.some((c) => c && typeof c.get === "function" && c.get("final_id") === id);
    } catch (e) { return false; }
  };
  const hasPartial = (outputs) => {
    for (let i = 0; i < outputs.length; i++) {
      const html = (outputs.get(i).data || {})["text/html"];
      if (typeof html === "string" && html.includes(partialMark)) return true;
    }
    return false;
  };
  const onLive = async () => {
    if (st.state !== "streaming") return;
    for (let c = 0; c < cells.length; c++) {
      const outputs = cells.get(c).outputs;
      for (let i = 0; outputs && i < outputs.length; i++) {
        const ref = (outputs.get(i).data || {})[WIDGET_MIME];
        if (!(await ours(ref))) continue;
        const now = outputs.get(i);  // (the await above let the list change)
        if (now && ((now.data || {})[WIDGET_MIME] || {}).model_id === ref.model_id) {
          const data = hasPartial(outputs) ? {} : { "text/plain": KILLED };
          outputs.set(i, { output_type: "display_data", data, metadata: {} });
        }
        return;
      }
    }
  };
  const safely = () => { onLive().catch(() => {}); };
  model.on("comm_live_update", safely);
  return () => model.off("comm_live_update", safely);
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
      lastMsgAt = performance.now();
      if (msg.t === "reset") resyncing = false;
      else if (typeof msg.seq === "number" && msg.seq !== st.seq + 1 && !resyncing) resync();  // a gap
      applyMsg(st, msg);
      refresh();
    };
    model.on("msg:custom", onMsg);
    resync();  // what was sent before this view existed
    refresh();
    // the kernel sends at least one message a second while streaming (a heartbeat): a
    // silence means it was restarted, died or is frozen, and the view says so
    let lastMsgAt = performance.now();
    const timer = setInterval(() => {
      const silent = st.state === "streaming" && performance.now() - lastMsgAt > SILENT_MS;
      if (silent !== !!st.silent) { st.silent = silent; refresh(); }
      elapsed.textContent = silent ? "" : elapsedLabel(st);
      if (!silent) setStatus(statusText, st);
    }, 100);
    const unwatch = watchOutputs(model, root);
    const undrop = dropOnDeath(model, st);
    model.on("change:show_stop", refresh);
    model.on("change:show_raw", refresh);
    model.on("change:prompt_html", refresh);
    return () => {
      clearInterval(timer);
      unwatch();
      undrop();
      model.off("msg:custom", onMsg);
      model.off("change:show_stop", refresh);
      model.off("change:show_raw", refresh);
      model.off("change:prompt_html", refresh);
    };
  },
};
