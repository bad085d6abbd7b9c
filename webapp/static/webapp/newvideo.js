/* The New video page's small helpers (the page works without them: the number inputs and plain submits stay).
 *
 * - Presenter position: a box on a frame preview that can be dragged. The mapping is the compositor's
 *   (video_generation/services/compose.py presenter_box): a 9:16 presenter whose height is `scale` × the frame's
 *   height, its left edge at free/2 × (1 + x) of the room left across the frame, its top at free/2 × (1 + y) of the
 *   room left down it; x and y go from -1 to 1. Dragging writes x and y to the number inputs and picks "Custom";
 *   a preset or typed numbers move the box.
 * - The image file: one over the size limit is cleared before it is sent, and shown in the preview if it fits.
 */
(function () {
  "use strict";

  var PRESENTER_ASPECT = 9 / 16;
  var FRAMES = { "9:16": [9, 16], "16:9": [16, 9] };

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  function number(input, fallback) {
    var value = parseFloat(input.value);
    return isNaN(value) ? fallback : value;
  }

  function round2(value) { return Math.round(value * 100) / 100; }

  function setUpPosition(form) {
    var preview = document.getElementById("frame-preview");
    var frame = document.getElementById("frame");
    var box = document.getElementById("presenter-box");
    if (!preview || !frame || !box) { return; }
    var presets = JSON.parse(preview.getAttribute("data-presets") || "{}");
    var preset = form.elements.avatar_position;
    var scale = form.elements.position_scale;
    var across = form.elements.position_x;
    var down = form.elements.position_y;
    preview.hidden = false;

    function aspect() {
      var checked = form.querySelector('input[name="aspect_ratio"]:checked');
      return FRAMES[checked ? checked.value : "9:16"] || FRAMES["9:16"];
    }

    // The presenter box in frame pixels, as presenter_box places it.
    function placement() {
      var frameWidth = frame.clientWidth, frameHeight = frame.clientHeight;
      var height = clamp(number(scale, 0.8), 0.1, 1) * frameHeight;
      var width = height * PRESENTER_ASPECT;
      if (width > frameWidth) { width = frameWidth; height = width / PRESENTER_ASPECT; }
      return { width: width, height: height, freeX: frameWidth - width, freeY: frameHeight - height };
    }

    function draw() {
      var ratio = aspect();
      frame.style.aspectRatio = ratio[0] + " / " + ratio[1];
      frame.classList.toggle("frame-landscape", ratio[0] > ratio[1]);
      var place = placement();
      box.style.width = place.width + "px";
      box.style.height = place.height + "px";
      box.style.left = place.freeX / 2 * (1 + clamp(number(across, 0.7), -1, 1)) + "px";
      box.style.top = place.freeY / 2 * (1 + clamp(number(down, 0.8), -1, 1)) + "px";
    }

    preset.addEventListener("change", function () {
      var chosen = presets[preset.value];
      if (chosen) {
        scale.value = chosen.scale;
        across.value = chosen.x;
        down.value = chosen.y;
      }
      draw();
    });
    [scale, across, down].forEach(function (input) {
      input.addEventListener("input", function () { preset.value = "custom"; draw(); });
    });
    form.addEventListener("change", function (event) {
      if (event.target.name === "aspect_ratio") { draw(); }
    });
    window.addEventListener("resize", draw);

    var grab = null;
    box.addEventListener("pointerdown", function (event) {
      grab = { x: event.clientX - box.offsetLeft, y: event.clientY - box.offsetTop };
      box.setPointerCapture(event.pointerId);
      event.preventDefault();
    });
    box.addEventListener("pointermove", function (event) {
      if (!grab) { return; }
      var place = placement();
      var left = clamp(event.clientX - grab.x, 0, place.freeX);
      var top = clamp(event.clientY - grab.y, 0, place.freeY);
      across.value = place.freeX > 0 ? round2(2 * left / place.freeX - 1) : 0;
      down.value = place.freeY > 0 ? round2(2 * top / place.freeY - 1) : 0;
      preset.value = "custom";
      draw();
    });
    function release(event) {
      if (!grab) { return; }
      grab = null;
      box.releasePointerCapture(event.pointerId);
      across.dispatchEvent(new Event("change", { bubbles: true }));
    }
    box.addEventListener("pointerup", release);
    box.addEventListener("pointercancel", release);
    draw();
    return frame;
  }

  function setUpImage(form, frame) {
    var input = form.elements.image_file;
    var note = document.getElementById("image-file-check");
    if (!input || !note) { return; }
    var limit = parseInt(note.getAttribute("data-max-bytes"), 10);
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      note.textContent = "";
      if (!file) { return; }
      if (limit && file.size > limit) {
        note.textContent = "This image is " + (file.size / 1048576).toFixed(1) + " MB; the largest we take is " +
          (limit / 1048576).toFixed(1) + " MB. Choose a smaller one.";
        input.value = "";
        return;
      }
      if (frame && /^image\/(png|jpeg|webp)$/.test(file.type)) {
        frame.style.backgroundImage = "url(" + URL.createObjectURL(file) + ")";
      }
    });
  }

  // The catalogue's previews follow the chosen avatar and voice; one the catalogue has no file for is hidden.
  function setUpPreview(select, media) {
    if (!select || !media) { return; }
    media.addEventListener("error", function () { media.hidden = true; });
    select.addEventListener("change", function () {
      media.hidden = !select.value;
      if (select.value) { media.src = media.getAttribute("data-preview") + encodeURIComponent(select.value); }
      else { media.removeAttribute("src"); }
    });
  }

  function start() {
    var form = document.getElementById("new-video-form");
    if (!form) { return; }
    setUpImage(form, setUpPosition(form));
    setUpPreview(form.elements.avatar_id, document.getElementById("avatar-preview"));
    setUpPreview(form.elements.voice_id, document.getElementById("voice-preview"));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
