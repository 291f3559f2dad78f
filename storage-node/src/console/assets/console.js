// Cairn console: the little script the pages use. No framework, nothing fetched from
// elsewhere. It (1) asks before destructive forms, (2) checks policy JSON while it is
// typed and before it is sent, (3) uploads files with a progress bar each (multipart in
// 8 MiB parts for larger files, cancel aborts the upload on the server).
"use strict";

(function () {
  const PART = 8 * 1024 * 1024;
  const csrf = () => {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  };

  // 1. Confirmation of destructive forms.
  document.addEventListener("submit", (ev) => {
    const f = ev.target;
    if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
      ev.preventDefault();
    }
  }, true);

  // 2. Policy JSON editors.
  function policyProblem(text) {
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return "Not valid JSON: " + e.message;
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
      return "A policy is a JSON object.";
    }
    const st = doc.Statement;
    if (!st || (Array.isArray(st) && st.length === 0)) {
      return "A policy needs at least one Statement.";
    }
    for (const s of Array.isArray(st) ? st : [st]) {
      if (s.Effect !== "Allow" && s.Effect !== "Deny") {
        return "Every statement needs \"Effect\": \"Allow\" or \"Deny\".";
      }
      if (!s.Action && !s.NotAction) {
        return "Every statement needs an Action.";
      }
    }
    return "";
  }

  function editorApplies(area) {
    const sel = area.form && area.form.querySelector('select[name="access"]');
    if (sel && sel.value !== "custom") return false;
    return area.value.trim() !== "" || !sel;
  }

  function checkEditor(area) {
    const out = area.form.querySelector(".json-status");
    const problem = editorApplies(area) ? policyProblem(area.value) : "";
    area.setAttribute("aria-invalid", problem ? "true" : "false");
    if (out) {
      out.textContent = problem || (editorApplies(area) ? "Valid policy JSON." : "");
      out.className = "json-status " + (problem ? "error" : "ok");
    }
    return problem;
  }

  for (const area of document.querySelectorAll("textarea[data-json]")) {
    area.addEventListener("input", () => checkEditor(area));
    area.form.addEventListener("submit", (ev) => {
      if (checkEditor(area)) {
        ev.preventDefault();
        area.focus();
      }
    });
    const sel = area.form.querySelector('select[name="access"]');
    if (sel) sel.addEventListener("change", () => checkEditor(area));
    checkEditor(area);
  }

  // 3. Uploads.
  const box = document.getElementById("uploader");
  if (!box) return;
  const bucket = box.dataset.bucket;
  const prefix = box.dataset.prefix || "";
  const list = document.getElementById("upload-list");

  function api(path, params) {
    const q = new URLSearchParams(params);
    return path + "?" + q.toString();
  }

  function send(method, url, body, onProgress, job, type) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      job.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader("x-csrf-token", csrf());
      if (type) xhr.setRequestHeader("x-upload-content-type", type);
      if (onProgress) {
        xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
      }
      xhr.onload = () => {
        let answer = {};
        try {
          answer = JSON.parse(xhr.responseText || "{}");
        } catch (e) {
          answer = { error: xhr.responseText };
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(answer);
        else reject(new Error(answer.error || ("HTTP " + xhr.status)));
      };
      xhr.onerror = () => reject(new Error("network error"));
      xhr.onabort = () => reject(new Error("cancelled"));
      xhr.send(body);
    });
  }

  function row(file, key) {
    const li = document.createElement("li");
    li.className = "upload";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = key;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload of " + key);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = "0 %";
    const state = document.createElement("span");
    state.className = "state";
    state.setAttribute("role", "status");
    state.textContent = "waiting";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", "Cancel upload of " + key);
    li.append(name, " ", bar, " ", pct, " ", state, " ", cancel);
    list.append(li);
    const job = { file, key, bar, pct, state, cancel, li, cancelled: false, xhr: null, uploadId: null };
    cancel.addEventListener("click", () => {
      job.cancelled = true;
      if (job.xhr) job.xhr.abort();
    });
    return job;
  }

  function show(job, done) {
    const size = job.file.size || 1;
    const p = job.file.size === 0 ? 100 : Math.min(100, Math.floor((done * 100) / size));
    job.bar.value = p;
    job.pct.textContent = p + " %";
  }

  async function upload(job) {
    const { file, key } = job;
    const target = { bucket, key };
    job.state.textContent = "uploading";
    if (file.size <= PART) {
      await send("PUT", api("/api/object", target), file, (n) => show(job, n), job, file.type);
      show(job, file.size);
      return;
    }
    const created = await send("POST", api("/api/multipart/create", target), null, null, job, file.type);
    job.uploadId = created.uploadId;
    const parts = [];
    let done = 0;
    for (let n = 1, off = 0; off < file.size; n++, off += PART) {
      if (job.cancelled) throw new Error("cancelled");
      const blob = file.slice(off, Math.min(file.size, off + PART));
      const answer = await send(
        "PUT",
        api("/api/multipart/part", { bucket, key, uploadId: job.uploadId, partNumber: n }),
        blob,
        (loaded) => show(job, done + loaded),
        job,
      );
      done += blob.size;
      show(job, done);
      parts.push({ partNumber: n, etag: answer.etag });
    }
    await send(
      "POST",
      api("/api/multipart/complete", { bucket, key, uploadId: job.uploadId }),
      JSON.stringify({ parts }),
      null,
      job,
    );
    show(job, file.size);
  }

  async function run(job) {
    try {
      await upload(job);
      job.state.textContent = "done";
      job.li.classList.add("done");
    } catch (e) {
      if (job.uploadId) {
        try {
          await send("POST", api("/api/multipart/abort", { bucket, key: job.key, uploadId: job.uploadId }), null, null, {});
        } catch (ignored) {
          // The server's stale-upload cleanup removes it later.
        }
      }
      job.state.textContent = job.cancelled ? "cancelled" : "failed: " + e.message;
      job.li.classList.add(job.cancelled ? "cancelled" : "failed");
    }
    job.cancel.disabled = true;
  }

  document.getElementById("upload-start").addEventListener("click", async () => {
    const files = [];
    for (const input of [document.getElementById("upload-files"), document.getElementById("upload-folder")]) {
      if (!input) continue;
      for (const f of input.files) files.push(f);
      input.value = "";
    }
    const jobs = files.map((f) => row(f, prefix + (f.webkitRelativePath || f.name)));
    for (const job of jobs) {
      await run(job);
    }
    if (jobs.length && !document.getElementById("upload-refresh")) {
      const a = document.createElement("a");
      a.id = "upload-refresh";
      a.href = window.location.pathname + window.location.search;
      a.textContent = "Refresh the listing";
      list.after(a);
    }
  });
})();
