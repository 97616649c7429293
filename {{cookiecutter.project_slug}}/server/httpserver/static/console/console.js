// The console page: try POST /service from a browser. Served by the server itself under a strict
// CSP. Model output is untrusted: it reaches the page only as text (textContent), as a raster
// image previewed from a blob: URL, or as a download; it is never parsed as markup.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const RASTER = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"]);
  const ACTIVE = /html|xml|svg|javascript|ecmascript|pdf/;
  const EXTENSIONS = { json: "application/json", txt: "text/plain; charset=utf-8", csv: "text/csv",
    png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", bmp: "image/bmp" };
  const TEXT_LIMIT = 100000, HEX_LIMIT = 4096, SAMPLE_AS_TEXT = 65536;
  const page = { info: null, file: null, sample: null, typed: false, controller: null, urls: [] };

  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  };
  const baseType = (type) => (type || "").split(";")[0].trim().toLowerCase();
  const isJson = (type) => type === "application/json" || type.endsWith("+json");
  const size = (n) => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
  const quote = (text) => `'${text.replace(/'/g, "'\\''")}'`;
  const note = (text, problem = false) => {
    $("note").textContent = text;
    $("note").className = problem ? "fail" : "muted";
  };

  // -- model state, name, limit and samples ----------------------------------------------------
  async function pollState() {
    let state = "unreachable";
    try {
      const response = await fetch("readyz", { cache: "no-store" });
      state = response.ok ? "ready" : ((await response.json()).status || "loading");
    } catch (error) { /* the server is down or restarting: say so, keep polling */ }
    $("state").textContent = state;
    $("state").className = `state ${state}`;
    setTimeout(pollState, state === "ready" ? 5000 : 1000);
  }

  async function loadInfo() {
    const info = await (await fetch("console/info", { cache: "no-store" })).json();
    page.info = info;
    $("model-name").textContent = info.model.name;
    $("model-framework").textContent = `${info.model.framework} · runtime ${info.version}`;
    document.title = `${info.model.name} · console`;
    $("limit").textContent = `body limit ${size(info.max_body_bytes)}`;
    const list = $("sample-list");
    for (const sample of info.samples) {
      const row = el("li");
      const load = el("button", sample.name);
      load.type = "button";
      load.addEventListener("click", () => loadSample(sample));
      sample.mark = el("span", sample.expected ? "not run" : "no expected answer", "muted");
      row.append(load, el("span", `${sample.file} · ${sample.content_type} · ${size(sample.size)}`, "muted"), sample.mark);
      list.append(row);
    }
    $("samples").hidden = info.samples.length === 0;
  }

  // -- the request: typed text, a file, or a sample ----------------------------------------------
  function guessType() {
    if (page.typed) return;
    let type = "text/plain; charset=utf-8";
    if (page.file) {
      const extension = page.file.name.split(".").pop().toLowerCase();
      type = page.file.type || EXTENSIONS[extension] || "application/octet-stream";
    } else {
      try { JSON.parse($("body").value); type = "application/json"; } catch (error) { /* text */ }
    }
    $("content-type").value = type;
  }

  function useFile(blob, name, sample = null) {
    page.file = blob;
    page.fileName = name;
    page.sample = sample;
    page.typed = false;
    $("file-info").textContent = `${name} (${size(blob.size)})`;
    $("clear-file").hidden = false;
    $("body").disabled = true;
    guessType();
  }

  function clearFile() {
    page.file = page.sample = null;
    $("file").value = "";
    $("file-info").textContent = "";
    $("clear-file").hidden = true;
    $("body").disabled = false;
    guessType();
  }

  async function loadSample(sample) {
    const blob = await (await fetch(`console/sample?name=${encodeURIComponent(sample.name)}`)).blob();
    page.typed = false;
    const textual = isJson(baseType(sample.content_type)) || sample.content_type.startsWith("text/");
    if (textual && blob.size <= SAMPLE_AS_TEXT) {
      clearFile();
      $("body").value = await blob.text();
      page.sample = sample;
    } else {
      useFile(new File([blob], sample.file, { type: sample.content_type }), `samples/${sample.file}`, sample);
    }
    $("content-type").value = sample.content_type;
    return sample;
  }

  function currentRequest() {
    const type = $("content-type").value.trim() || "application/octet-stream";
    if (page.file) {
      return { body: page.file, type, size: page.file.size, data: `@${page.fileName}`, sample: page.sample };
    }
    const text = $("body").value;
    return { body: text, type, size: new TextEncoder().encode(text).length, data: text, sample: page.sample };
  }

  function showCurl(request) {
    const url = new URL("service", location.href).href;
    const option = request.body instanceof Blob ? "--data-binary" : "--data-raw";
    $("curl").textContent = `curl -sS ${quote(url)} -H ${quote(`Content-Type: ${request.type}`)} ${option} ${quote(request.data)}`;
    $("curl").className = "";
    $("copy-curl").disabled = false;
  }

  // -- sending -----------------------------------------------------------------------------------
  async function send(request = currentRequest()) {
    if (page.controller) return null;
    const limit = page.info ? page.info.max_body_bytes : Infinity;
    if (request.size > limit) {
      note(`Not sent: the body is ${size(request.size)} (${request.size} bytes), over the server's limit of ${limit} bytes (server.max_body_bytes).`, true);
      return null;
    }
    note("");
    showCurl(request);
    page.controller = new AbortController();
    $("cancel").disabled = false;
    $("summary").textContent = "Waiting for the answer…";
    const started = performance.now();
    try {
      const response = await fetch("service", { method: "POST", body: request.body, headers: { "Content-Type": request.type }, signal: page.controller.signal });
      const bytes = new Uint8Array(await response.arrayBuffer());
      showAnswer(response, bytes, performance.now() - started);
      if (request.sample) await checkSample(request.sample, response.status, bytes);
      return response;
    } catch (error) {
      $("summary").textContent = error.name === "AbortError" ? "Cancelled: no answer shown." : `No answer: ${error.message}`;
      return null;
    } finally {
      page.controller = null;
      $("cancel").disabled = true;
    }
  }

  async function checkSample(sample, status, bytes) {
    let verdict = { match: false, problem: `HTTP ${status}` };
    if (status === 200) {
      const response = await fetch(`console/check?name=${encodeURIComponent(sample.name)}`, { method: "POST", body: bytes });
      verdict = await response.json();
    }
    const text = verdict.match ? "matches the expected answer" : `differs: ${verdict.problem}`;
    sample.mark.textContent = text;
    sample.mark.className = verdict.match ? "pass" : "fail";
    $("verdict").textContent = `Sample ${sample.name}: ${text}`;
    $("verdict").className = sample.mark.className;
    $("verdict").hidden = false;
  }

  async function runSamples() {
    for (const sample of page.info.samples) {
      await loadSample(sample);
      await send();
    }
  }

  // -- the answer --------------------------------------------------------------------------------
  function showAnswer(response, bytes, milliseconds) {
    const type = baseType(response.headers.get("Content-Type"));
    $("summary").textContent = `${response.status} ${response.statusText} · ${type || "no content type"} · ${size(bytes.length)} (${bytes.length} bytes) · ${milliseconds.toFixed(0)} ms`;
    $("summary").className = "";
    const table = $("headers");
    table.replaceChildren();
    for (const [name, value] of response.headers) {
      const row = el("tr");
      row.append(el("td", name), el("td", value));
      table.append(row);
    }
    page.urls.forEach(URL.revokeObjectURL);
    page.urls = [];
    $("view").replaceChildren();
    $("verdict").hidden = $("error").hidden = $("download").hidden = true;
    if (response.status >= 400 && isJson(type)) showError(bytes, response.headers.get("Retry-After"));
    if (ACTIVE.test(type)) {
      $("view").append(el("p", `${type} is active content: offered as a download only, never rendered.`, "cut"));
      offerDownload(bytes, type);
    } else if (isJson(type)) {
      showText(prettyJson(bytes), bytes, type);
    } else if (type.startsWith("text/")) {
      showText(decode(bytes, response.headers.get("Content-Type")), bytes, type);
    } else if (RASTER.has(type)) {
      const image = el("img");
      image.alt = `${type} answer`;
      image.addEventListener("load", () => {
        image.classList.toggle("small", image.naturalWidth < 96);
        image.after(el("p", `${image.naturalWidth} × ${image.naturalHeight} px`, "muted"));
      });
      image.src = blobUrl(bytes, type);
      $("view").append(image);
      offerDownload(bytes, type);
    } else {
      showHex(bytes);
      offerDownload(bytes, type);
    }
  }

  function showError(bytes, retryAfter) {
    let error = {};
    try { error = JSON.parse(decode(bytes)); } catch (problem) { return; }
    if (typeof error.error !== "string") return;
    const retry = retryAfter ? ` Retry after ${retryAfter} s.` : "";
    $("error").textContent = `${error.error}: ${error.message || ""}${retry}`;
    $("error").hidden = false;
  }

  function decode(bytes, contentType = "") {
    const charset = /charset=([^;]+)/i.exec(contentType);
    try { return new TextDecoder(charset ? charset[1].trim() : "utf-8").decode(bytes); } catch (error) { return new TextDecoder().decode(bytes); }
  }

  function prettyJson(bytes) {
    const text = decode(bytes);
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (error) { return text; }
  }

  function showText(text, bytes, type) {
    $("view").append(el("pre", text.length > TEXT_LIMIT ? text.slice(0, TEXT_LIMIT) : text));
    if (text.length > TEXT_LIMIT) {
      $("view").append(el("p", `Cut: showing the first ${TEXT_LIMIT.toLocaleString()} of ${text.length.toLocaleString()} characters; download the whole answer.`, "cut"));
      offerDownload(bytes, type);
    }
  }

  function showHex(bytes) {
    const lines = [];
    for (let offset = 0; offset < Math.min(bytes.length, HEX_LIMIT); offset += 16) {
      const row = Array.from(bytes.subarray(offset, Math.min(offset + 16, HEX_LIMIT)));
      const hex = row.map((b) => b.toString(16).padStart(2, "0")).join(" ");
      const ascii = row.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
      lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
    }
    $("view").append(el("pre", lines.join("\n") || "(empty body)"));
    if (bytes.length > HEX_LIMIT) $("view").append(el("p", `Cut: showing the first ${HEX_LIMIT} of ${bytes.length} bytes.`, "cut"));
  }

  function blobUrl(bytes, type) {
    const url = URL.createObjectURL(new Blob([bytes], { type }));
    page.urls.push(url);
    return url;
  }

  function offerDownload(bytes, type) {
    // Always application/octet-stream: a blob: URL shares this page's origin, so an HTML answer
    // opened from it must never be rendered here.
    const link = $("download");
    const extension = { "application/json": "json", "text/plain": "txt", "text/html": "html", "image/svg+xml": "svg" }[type]
      || (RASTER.has(type) ? type.split("/")[1] : "bin");
    link.href = blobUrl(bytes, "application/octet-stream");
    link.download = `answer.${extension}`;
    link.textContent = `Download the answer (${size(bytes.length)})`;
    link.hidden = false;
  }

  async function copyCurl() {
    try {
      await navigator.clipboard.writeText($("curl").textContent);
      note("curl command copied.");
    } catch (error) {
      getSelection().selectAllChildren($("curl"));
      note("Selected: press Ctrl+C to copy.");
    }
  }

  // -- wiring ------------------------------------------------------------------------------------
  function wire() {
    $("send").addEventListener("click", () => send());
    $("cancel").addEventListener("click", () => page.controller && page.controller.abort());
    $("run-samples").addEventListener("click", runSamples);
    $("copy-curl").addEventListener("click", copyCurl);
    $("clear-file").addEventListener("click", clearFile);
    $("body").addEventListener("input", () => { page.sample = null; guessType(); });
    $("content-type").addEventListener("input", () => { page.typed = true; });
    $("file").addEventListener("change", () => $("file").files[0] && useFile($("file").files[0], $("file").files[0].name));
    // A file dropped anywhere is the body: the browser must not navigate to it instead.
    const drop = $("drop");
    document.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
    document.addEventListener("dragleave", (event) => event.relatedTarget || drop.classList.remove("over"));
    document.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      if (event.dataTransfer.files[0]) useFile(event.dataTransfer.files[0], event.dataTransfer.files[0].name);
    });
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key === "Enter") { event.preventDefault(); send(); }
    });
  }

  wire();
  guessType();
  pollState();
  loadInfo().catch((error) => note(`Could not read console/info: ${error.message}`, true));
})();
