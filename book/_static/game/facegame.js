/* The Face Game in the reader's browser (book/face_game_live.md): MediaPipe Face Mesh (npm @mediapipe/face_mesh,
 * served from this book's own _static/game/face_mesh/) finds 468 landmarks, the AU reader of
 * facexplain.faces.read_aus (exported to game_data.js at build time) turns them into AUs, and the Face Game's
 * Jaccard score and ranked instructions (facexplain.game) follow. Nothing leaves the browser: no request is
 * made to any server but the one that serves this book's files, and photos are never uploaded or stored.
 *
 * readAus, plan and instructions mirror facexplain.faces.apply_model, game.plan and game.instructions;
 * tests/test_game_browser.py holds them equal on real photos. The face detector's 128x128 input is built here
 * (detectorInput) as Python's MediaPipe builds it on the CPU, and given to Face Mesh as a second image (the graph
 * of facexplain.game.web.detector_input_graph): the browser's own GPU shrinking samples other pixels, which moves
 * the detected box, hence the landmarks, hence AUs near their thresholds.
 */
(function () {
  "use strict";

  const HERE = new URL(".", document.currentScript.src);   // .../_static/game/
  const MIN_SIZE = 256;            // as faces.mesh.detect_landmarks: smaller images are upscaled first

  // ------------------------------------------------------------------------------------ the AU reader model

  function round(v, digits) {
    const f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  /** Points mapped onto `ref` by the least-squares similarity (scale, rotation, shift) fitted on `idx`
   *  (faces.au_reader.similarity_align). */
  function similarityAlign(pts, ref, idx) {
    const n = idx.length;
    let ms = [0, 0], md = [0, 0];
    for (const i of idx) { ms[0] += pts[i][0] / n; ms[1] += pts[i][1] / n; md[0] += ref[i][0] / n; md[1] += ref[i][1] / n; }
    let ss = 0, sa = 0, sb = 0;
    for (const i of idx) {
      const sx = pts[i][0] - ms[0], sy = pts[i][1] - ms[1], dx = ref[i][0] - md[0], dy = ref[i][1] - md[1];
      ss += sx * sx + sy * sy;
      sa += sx * dx + sy * dy;
      sb += sx * dy - sy * dx;
    }
    const a = sa / ss, b = sb / ss;
    return pts.map(p => {
      const qx = p[0] - ms[0], qy = p[1] - ms[1];
      return [a * qx - b * qy + md[0], b * qx + a * qy + md[1]];
    });
  }

  /** The model's measures of aligned points (faces.au_reader._measures): per measure, the mean x (axis 0) or y
   *  (axis 1) of its points minus that of its minus points. */
  function measures(model, q) {
    const mean = (idx, axis) => idx.reduce((s, i) => s + q[i][axis], 0) / idx.length;
    return model.measures.map(m => mean(m.points, m.axis) - mean(m.minus, m.axis));
  }

  /** AU -> intensity (present AUs only) of one face's 468 [x, y] landmarks, optionally against a neutral face:
   *  faces.au_reader.apply_model -- the measures of the points aligned onto the reference (minus the neutral
   *  face's measures), one linear head per reference kind ("template" without a neutral face, "neutral" with one). */
  function readAus(model, pts, neutral) {
    const ref = model.reference;
    let f = measures(model, similarityAlign(pts, ref, model.align_points));
    if (neutral) {
      const base = measures(model, similarityAlign(neutral, ref, model.align_points));
      f = f.map((v, k) => v - base[k]);
    }
    const head = model.heads[neutral ? "neutral" : "template"];
    const z = f.map((v, k) => (v - head.mean[k]) / head.scale[k]);
    const dot = (w, b) => w.reduce((s, wk, k) => s + wk * z[k], 0) + b;
    const [lo, hi] = model.intensity_range;
    const out = {};
    model.aus.forEach((au, j) => {
      const prob = 1 / (1 + Math.exp(-dot(head.coef[j], head.intercept[j])));
      if (prob >= head.threshold[j]) {
        out[au] = round(Math.min(hi, Math.max(lo, dot(head.int_coef[j], head.int_intercept[j]))), 2);
      }
    });
    return out;
  }

  // ------------------------------------------------------------------------------------ score, instructions

  const sorted = s => Array.from(s).sort((a, b) => a - b);

  function jaccard(player, target) {
    const p = new Set(player), t = new Set(target);
    const union = new Set([...p, ...t]).size;
    if (!union) return 1.0;
    return [...p].filter(a => t.has(a)).length / union;
  }

  function regionPhrase(tables, aus) {
    const key = sorted(aus).join(",");
    for (const [set, phrase] of tables.merged) if (sorted(set).join(",") === key) return phrase;
    const parts = sorted(aus).map(a => tables.phrases[String(a)]);
    return parts.length === 1 ? parts[0] : parts.slice(0, -1).join(", ") + " and " + parts[parts.length - 1];
  }

  function sentence(phrase, polarity) {
    const text = polarity === "add" ? phrase : "try not to " + phrase;
    return text[0].toUpperCase() + text.slice(1) + ".";
  }

  /** All instructions, most score-raising first (facexplain.game.plan). */
  function plan(tables, target, player) {
    const t = new Set(target), p = new Set(player);
    for (const a of [...t, ...p]) {
      if (!(String(a) in tables.phrases)) throw new Error("the game has no phrasing for AU" + a);
    }
    const inter = [...p].filter(a => t.has(a)).length;
    const union = new Set([...p, ...t]).size;
    const score = union ? inter / union : 1.0;
    const items = [];
    const todo = {add: [...t].filter(a => !p.has(a)), remove: [...p].filter(a => !t.has(a))};
    for (const polarity of ["add", "remove"]) {
      tables.regions.forEach(([region, members], rank) => {
        const group = todo[polarity].filter(a => members.includes(a));
        if (!group.length) return;
        const k = group.length;
        const after = polarity === "add" ? (inter + k) / union : (union > k ? inter / (union - k) : 1.0);
        items.push({key: [-(after - score), polarity !== "add" ? 1 : 0, -k, rank],
                    step: {region, aus: sorted(group), polarity, gain: after - score,
                           phrase: sentence(regionPhrase(tables, group), polarity)}});
      });
    }
    items.sort((x, y) => {
      for (let i = 0; i < 4; i++) if (x.key[i] !== y.key[i]) return x.key[i] < y.key[i] ? -1 : 1;
      return 0;
    });
    return items.map(x => x.step);
  }

  // ------------------------------------------------------------------------------------ AU regions to draw

  /** Ellipse sites [cx, cy, rx, ry] of an AU on 68 points (a port of facexplain.faces.regions._sites). */
  function sites(p, n, d) {
    const r = 0.18 * d;
    const mid = (a, b) => [(p[a][0] + p[b][0]) / 2, (p[a][1] + p[b][1]) / 2];
    const eyeBox = (from, taller) => {
      const pts = p.slice(from, from + 6);
      const xs = pts.map(q => q[0]), ys = pts.map(q => q[1]);
      const cx = xs.reduce((s, v) => s + v, 0) / 6, cy = ys.reduce((s, v) => s + v, 0) / 6;
      const ptp = v => Math.max(...v) - Math.min(...v);
      return [cx, cy, ptp(xs) / 2 + 0.05 * d, (ptp(ys) / 2 + 0.08 * d) * (taller || 1)];
    };
    if (n === 1) return [[...p[20], r, 0.6 * r], [...p[23], r, 0.6 * r]];
    if (n === 2) return [[...p[18], r, 0.6 * r], [...p[25], r, 0.6 * r]];
    if (n === 4) return [[...mid(19, 24), 1.6 * r, 0.7 * r]];
    if ([5, 43, 45].includes(n)) return [eyeBox(36), eyeBox(42)];
    if (n === 7) return [eyeBox(36, 1.6), eyeBox(42, 1.6)];
    if (n === 6 || n === 13) return [[p[41][0], p[41][1] + 0.3 * d, r, 0.7 * r], [p[46][0], p[46][1] + 0.3 * d, r, 0.7 * r]];
    if (n === 9) return [[p[31][0], p[29][1], 0.6 * r, 0.6 * r], [p[35][0], p[29][1], 0.6 * r, 0.6 * r]];
    if (n === 10 || n === 11) return [[p[48][0], p[50][1], 0.6 * r, 0.6 * r], [p[52][0], p[54][1], 0.6 * r, 0.6 * r]];
    if (n === 12 || n === 15) return [[...p[48], 0.7 * r, 0.7 * r], [...p[54], 0.7 * r, 0.7 * r]];
    if (n === 14) return [[p[48][0] - 0.1 * d, p[48][1], 0.7 * r, 0.7 * r], [p[54][0] + 0.1 * d, p[54][1], 0.7 * r, 0.7 * r]];
    if (n === 16) return [[...p[59], 0.7 * r, 0.7 * r], [...p[55], 0.7 * r, 0.7 * r]];
    if (n === 17) return [[...mid(59, 8), 1.2 * r, 0.7 * r]];
    if (n === 20) return [[...mid(48, 6), 0.7 * r, 0.7 * r], [...mid(54, 10), 0.7 * r, 0.7 * r]];
    if (n === 25) return [[...p[51], 0.9 * r, 0.5 * r], [...p[57], 0.9 * r, 0.5 * r]];
    const c = [(p[48][0] + p[54][0] + p[51][0] + p[57][0]) / 4, (p[48][1] + p[54][1] + p[51][1] + p[57][1]) / 4];
    return [[c[0], c[1], Math.abs(p[54][0] - p[48][0]) / 2 + 0.05 * d, Math.abs(p[57][1] - p[51][1]) / 2 + 0.08 * d]];
  }

  function eyeDistance(p) {
    const centre = from => [0, 1].map(k => p.slice(from, from + 6).reduce((s, q) => s + q[k], 0) / 6);
    const a = centre(36), b = centre(42);
    return Math.hypot(a[0] - b[0], a[1] - b[1]);
  }

  /** Head yaw in degrees from the face edges at cheek level (mesh 234, 454) in Face Mesh's x/z space. */
  function yawDegrees(raw) {
    const a = raw[234], b = raw[454];
    return Math.atan2(b.z - a.z, b.x - a.x) * 180 / Math.PI;
  }

  // ------------------------------------------------------------------------------------ Face Mesh

  /** The face detector's size x size RGB input of a width x height canvas, as MediaPipe's CPU
   *  ImageToTensorCalculator (image_to_tensor_converter_opencv.cc) makes it: the image centred in a square of its
   *  longer side (zeros outside: BORDER_ZERO) and shrunk with cv::warpPerspective(INTER_LINEAR), which maps the
   *  square's corners onto the output's corners, rounds source positions to 1/32 pixel (cvRound: ties to even)
   *  and rounds the bilinear sum of 8-bit pixels half up. Returns a size x size canvas. */
  function detectorInput(canvas, width, height, size) {
    const src = canvas.getContext("2d").getImageData(0, 0, width, height).data;
    const side = Math.max(width, height), step = side / size;
    const x0 = (width - side) / 2, y0 = (height - side) / 2;
    const out = new ImageData(size, size);
    const at = (x, y, c) => (x < 0 || y < 0 || x >= width || y >= height) ? 0 : src[4 * (y * width + x) + c];
    const rint = v => { const r = Math.round(v); return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r; };
    for (let j = 0; j < size; j++) {
      const fy = rint((y0 + j * step) * 32), y = Math.floor(fy / 32), ay = fy - 32 * y;
      for (let i = 0; i < size; i++) {
        const fx = rint((x0 + i * step) * 32), x = Math.floor(fx / 32), ax = fx - 32 * x;
        const o = 4 * (j * size + i);
        for (let c = 0; c < 3; c++) {
          const sum = (32 - ay) * ((32 - ax) * at(x, y, c) + ax * at(x + 1, y, c)) +
                      ay * ((32 - ax) * at(x, y + 1, c) + ax * at(x + 1, y + 1, c));
          out.data[o + c] = Math.floor((sum + 512) / 1024);
        }
        out.data[o + 3] = 255;
      }
    }
    const small = document.createElement("canvas");
    small.width = small.height = size;
    small.getContext("2d").putImageData(out, 0, 0);
    return small;
  }

  let mesh = null, meshReady = null, lastResults = null, queue = Promise.resolve();

  function simdSupported() {
    // the smallest module using a v128 instruction; validate() is false without wasm SIMD
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0,
                                  65, 0, 253, 15, 253, 98, 11]);
    try { return WebAssembly.validate(bytes); } catch (e) { return false; }
  }

  function faceMesh() {
    if (meshReady) return meshReady;
    meshReady = (async () => {
      if (location.protocol === "file:") {
        throw new Error("Face Mesh cannot load from a file:// page. Serve the built book over http, e.g. " +
                        "`python -m http.server -d book/_build/html`, and open it from there.");
      }
      if (typeof WebAssembly !== "object" || !simdSupported()) {
        throw new Error("This browser lacks WebAssembly SIMD, which Face Mesh needs here " +
                        "(any current Chrome, Edge, Firefox or Safari 16.4+ has it).");
      }
      if (typeof FaceMesh !== "function") throw new Error("the Face Mesh script did not load");
      const data = window.FACEGAME_DATA;
      mesh = new FaceMesh({   // npm's graph, changed to take the detector's input as a second image
        locateFile: file => new URL(file === "face_mesh.binarypb" ? data.graph : "face_mesh/" + file, HERE).href,
        inputs: {detector: {type: "video", stream: data.detector_input},
                 image: {type: "video", stream: "input_frames_gpu"}}});
      mesh.setOptions({maxNumFaces: 2, refineLandmarks: false, minDetectionConfidence: 0.5,
                       minTrackingConfidence: 0.5, selfieMode: false});
      mesh.onResults(r => { lastResults = r; });
      await mesh.initialize();
      return mesh;
    })();
    meshReady.catch(() => { meshReady = null; });
    return meshReady;
  }

  /** Face Mesh on one still image (a canvas: a photo or a camera frame): the faces' landmarks in its pixels. */
  function detect(source, width, height) {
    const run = async () => {
      const fm = await faceMesh();
      const factor = Math.max(1, MIN_SIZE / Math.min(width, height));
      let input = source;
      if (factor > 1) {
        input = document.createElement("canvas");
        input.width = Math.round(width * factor);
        input.height = Math.round(height * factor);
        const ctx = input.getContext("2d");
        ctx.imageSmoothingQuality = "high";
        ctx.drawImage(source, 0, 0, input.width, input.height);
      }
      const small = detectorInput(input, input.width, input.height, window.FACEGAME_DATA.detector_size);
      fm.reset();                       // a still photo: detect afresh, no tracking from the previous one
      lastResults = null;
      await fm.send({detector: small, image: input});   // the photo last: Face Mesh's canvas takes its size
      const faces = (lastResults && lastResults.multiFaceLandmarks) || [];
      return faces.map(f => ({raw: f, pts: f.slice(0, 468).map(q => [q.x * width, q.y * height])}));
    };
    const job = queue.then(run, run);
    queue = job.catch(() => {});
    return job;
  }

  // ------------------------------------------------------------------------------------ the page

  function el(id) { return document.getElementById(id); }

  function describeAus(aus) {
    const keys = sorted(Object.keys(aus).map(Number));
    return keys.length ? keys.map(a => "AU" + a + " (" + aus[a].toFixed(1) + ")").join(", ") : "none";
  }

  function setup() {
    const root = el("facegame");
    if (!root) return;
    const data = window.FACEGAME_DATA;
    const status = el("fg-status");
    const say = (text, kind) => {
      status.textContent = text;
      status.className = "fg-status" + (kind ? " fg-" + kind : "");
      status.setAttribute("role", kind === "error" ? "alert" : "status");
    };
    if (!data) {
      say("The game's data (game_data.js) did not load: rebuild the book with `python -m facexplain.book build`.",
          "error");
      return;
    }
    const model = data.model, tables = data.phrases;
    const state = {target: data.targets[0], neutral: null, player: null, tries: [], stream: null};

    // target picker
    const select = el("fg-target");
    data.targets.forEach((t, i) => {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = t.name + " (" + (t.aus.map(a => "AU" + a).join(" ") || "no AU") + ")";
      select.appendChild(o);
    });
    const showTarget = () => {
      state.target = data.targets[Number(select.value)];
      const img = el("fg-target-img");
      img.src = new URL(state.target.image, HERE).href;
      img.alt = "Target face: " + state.target.name;
      el("fg-target-aus").textContent = "Target AUs: " + state.target.aus.map(a => "AU" + a).join(", ");
      if (state.player) score(false);
    };
    select.addEventListener("change", showTarget);
    showTarget();

    // reading a still image
    async function readImage(source, width, height, what) {
      say("Finding your face" + (meshReady ? "" : " (loading Face Mesh, about 10 MB, once)") + "...", "busy");
      root.setAttribute("aria-busy", "true");
      try {
        const faces = await detect(source, width, height);
        if (!faces.length) {
          say("No face found in this " + what + ". Use a well-lit photo with one face looking at the camera, " +
              "at least about 100 pixels across.", "error");
          return null;
        }
        if (faces.length > 1) {
          say("Two faces in this " + what + ": the game reads one face at a time. Crop the photo to your face, " +
              "or make sure you are alone in the picture.", "error");
          return null;
        }
        const yaw = yawDegrees(faces[0].raw);
        if (Math.abs(yaw) > data.max_yaw_degrees) {
          say("Your head is turned to the side (about " + Math.round(Math.abs(yaw)) + " degrees; at most " +
              data.max_yaw_degrees + " are read). Face the camera and try again: from the side, " +
              "the reader would give a wrong score.", "error");
          return null;
        }
        return {pts: faces[0].pts, yaw};
      } catch (err) {
        say("Face Mesh could not run: " + (err && err.message ? err.message : err), "error");
        return null;
      } finally {
        root.removeAttribute("aria-busy");
      }
    }

    function snapshot(source, width, height) {
      const c = document.createElement("canvas");
      c.width = width;
      c.height = height;
      c.getContext("2d").drawImage(source, 0, 0, width, height);
      return c;
    }

    async function loadFile(file) {
      const url = URL.createObjectURL(file);
      try {
        const img = new Image();
        img.src = url;
        await img.decode();
        return snapshot(img, img.naturalWidth, img.naturalHeight);
      } finally {
        URL.revokeObjectURL(url);
      }
    }

    async function play(canvas, what) {
      const face = await readImage(canvas, canvas.width, canvas.height, what);
      if (!face) return;
      state.player = {canvas, pts: face.pts, aus: readAus(model, face.pts, state.neutral && state.neutral.pts)};
      score(true);
    }

    async function setNeutral(canvas, what) {
      const face = await readImage(canvas, canvas.width, canvas.height, what);
      if (!face) return;
      state.neutral = {pts: face.pts};
      el("fg-neutral-state").textContent = "Neutral face recorded: your AUs are read against it.";
      el("fg-neutral-clear").disabled = false;
      say("Neutral face recorded. Now make the target's expression.", "ok");
      if (state.player) {
        state.player.aus = readAus(model, state.player.pts, state.neutral.pts);
        score(false);
      }
    }

    // one try: score, instructions, regions, and a row in the tries table
    function score(isTry) {
      const player = sorted(Object.keys(state.player.aus).map(Number));
      const target = state.target.aus;
      const s = jaccard(player, target);
      const steps = plan(tables, target, player);
      const shown = steps.slice(0, data.max_instructions);
      const out = el("fg-score");
      out.value = s.toFixed(2);
      out.textContent = s.toFixed(2);
      out.dataset.score = String(s);
      const aus = el("fg-aus");
      aus.textContent = describeAus(state.player.aus);
      aus.dataset.aus = player.join(",");
      const list = el("fg-instructions");
      list.innerHTML = "";
      if (!shown.length) {
        const li = document.createElement("li");
        li.textContent = "Perfect match: nothing to change.";
        li.dataset.perfect = "true";
        list.appendChild(li);
      }
      shown.forEach(step => {
        const li = document.createElement("li");
        li.textContent = step.phrase;
        li.className = "fg-" + step.polarity;
        li.dataset.aus = step.aus.join(",");
        list.appendChild(li);
      });
      draw(shown);
      el("fg-result").hidden = false;
      if (isTry) {
        state.tries.push({target: state.target.name, score: s, aus: player, neutral: !!state.neutral});
        renderTries();
      }
      say("Score " + s.toFixed(2) + " for target " + state.target.name + "." +
          (shown.length ? " First instruction: " + shown[0].phrase : " A perfect match!"), "ok");
    }

    function renderTries() {
      const body = el("fg-tries-body");
      body.innerHTML = "";
      state.tries.forEach((t, i) => {
        const tr = document.createElement("tr");
        for (const v of [String(i + 1), t.target, t.score.toFixed(2),
                         t.aus.map(a => "AU" + a).join(" ") || "none", t.neutral ? "own neutral" : "template"]) {
          const td = document.createElement("td");
          td.textContent = v;
          tr.appendChild(td);
        }
        body.appendChild(tr);
      });
      el("fg-tries-empty").hidden = state.tries.length > 0;
      el("fg-clear").disabled = !state.tries.length;
      const best = state.tries.length ? Math.max(...state.tries.map(t => t.score)) : null;
      el("fg-best").textContent = best === null ? "" : "Best so far: " + best.toFixed(2) + " over " +
                                                        state.tries.length + " tries.";
    }

    function draw(steps) {
      const {canvas: photo, pts} = state.player;
      const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
      const lo = [Math.min(...xs), Math.min(...ys)], hi = [Math.max(...xs), Math.max(...ys)];
      const half = 0.75 * Math.max(hi[0] - lo[0], hi[1] - lo[1]);
      const c = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2];
      const x0 = Math.max(0, c[0] - half), y0 = Math.max(0, c[1] - half);
      const x1 = Math.min(photo.width, c[0] + half), y1 = Math.min(photo.height, c[1] + half);
      const size = 400, k = size / Math.max(x1 - x0, y1 - y0);
      const canvas = el("fg-canvas");
      canvas.width = Math.round((x1 - x0) * k);
      canvas.height = Math.round((y1 - y0) * k);
      const ctx = canvas.getContext("2d");
      ctx.drawImage(photo, x0, y0, x1 - x0, y1 - y0, 0, 0, canvas.width, canvas.height);
      const p68 = data.ibug68.map(i => [(pts[i][0] - x0) * k, (pts[i][1] - y0) * k]);
      const d = eyeDistance(p68);
      const labels = [];
      steps.forEach((step, i) => {
        const colour = step.polarity === "add" ? "26, 191, 77" : "230, 51, 51";
        const all = [].concat(...step.aus.map(a => sites(p68, a, d)));
        for (const [cx, cy, rx, ry] of all) {     // the au_map blob above 0.35 of its peak: 1.45 radii
          ctx.beginPath();
          ctx.ellipse(cx, cy, 1.45 * Math.max(rx, 1), 1.45 * Math.max(ry, 1), 0, 0, 2 * Math.PI);
          ctx.fillStyle = "rgba(" + colour + ", 0.35)";
          ctx.fill();
          ctx.lineWidth = 2;
          ctx.strokeStyle = "rgba(" + colour + ", 0.95)";
          ctx.stroke();
        }
        const first = all.reduce((a, b) => (b[0] < a[0] ? b : a));
        let pos = [first[0], first[1]];
        while (labels.some(q => Math.hypot(pos[0] - q[0], pos[1] - q[1]) < 0.07 * size)) pos = [pos[0] + 0.075 * size, pos[1]];
        labels.push(pos);
        ctx.beginPath();
        ctx.arc(pos[0], pos[1], 11, 0, 2 * Math.PI);
        ctx.fillStyle = "rgb(" + colour + ")";
        ctx.fill();
        ctx.fillStyle = "white";
        ctx.font = "bold 14px sans-serif";
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(String(i + 1), pos[0], pos[1]);
      });
      canvas.setAttribute("aria-label", "Your face with the regions to change: " +
        (steps.length ? steps.map((s, i) => (i + 1) + ", " + s.region + " (" +
          (s.polarity === "add" ? "green, do this" : "red, stop this") + ")").join("; ") : "none") + ".");
    }

    // photo inputs
    el("fg-photo").addEventListener("change", async ev => {
      const file = ev.target.files && ev.target.files[0];
      if (file) await play(await loadFile(file), "photo");
      ev.target.value = "";
    });
    el("fg-neutral-file").addEventListener("change", async ev => {
      const file = ev.target.files && ev.target.files[0];
      if (file) await setNeutral(await loadFile(file), "neutral photo");
      ev.target.value = "";
    });
    el("fg-neutral-clear").addEventListener("click", () => {
      state.neutral = null;
      el("fg-neutral-state").textContent = "No neutral face: your AUs are read against the template face.";
      el("fg-neutral-clear").disabled = true;
      if (state.player) {
        state.player.aus = readAus(model, state.player.pts, null);
        score(false);
      }
      say("Neutral face forgotten.", "ok");
    });
    el("fg-clear").addEventListener("click", () => {
      state.tries = [];
      renderTries();
      say("Tries cleared.", "ok");
    });

    // webcam
    const video = el("fg-video");
    const camButtons = ["fg-cam-try", "fg-cam-neutral", "fg-cam-stop"];
    const stopCamera = () => {
      if (state.stream) state.stream.getTracks().forEach(t => t.stop());
      state.stream = null;
      video.srcObject = null;
      video.hidden = true;
      camButtons.forEach(id => { el(id).disabled = true; });
      el("fg-cam-start").disabled = false;
    };
    el("fg-cam-start").addEventListener("click", async () => {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        say("This browser gives no camera access to this page (it needs https or localhost): upload a photo instead.",
            "error");
        return;
      }
      try {
        state.stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "user"}, audio: false});
      } catch (err) {
        say("The camera could not start (" + (err && err.name ? err.name : err) + "): allow camera access, " +
            "or upload a photo instead.", "error");
        return;
      }
      video.srcObject = state.stream;
      video.hidden = false;
      await video.play();
      camButtons.forEach(id => { el(id).disabled = false; });
      el("fg-cam-start").disabled = true;
      el("fg-cam-try").focus();
      say("Camera on. The picture stays in this browser. Take a neutral photo first if you like, then your try.", "ok");
      faceMesh().catch(() => {});
    });
    const frame = () => snapshot(video, video.videoWidth, video.videoHeight);
    el("fg-cam-try").addEventListener("click", () => play(frame(), "camera picture"));
    el("fg-cam-neutral").addEventListener("click", () => setNeutral(frame(), "camera picture"));
    el("fg-cam-stop").addEventListener("click", () => { stopCamera(); say("Camera off.", "ok"); });
    stopCamera();
    renderTries();
    root.dataset.ready = "true";
    say("Ready. Pick a target, then upload a photo or start the camera.", "ok");
  }

  window.FaceGame = {readAus, jaccard, plan, yawDegrees, sites, detect, detectorInput};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
