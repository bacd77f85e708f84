/* Satu Pintu — small progressive enhancements. Every page works without this file:
   the server validates everything and shows each error at its field.
   CSP is script-src 'self', so there is no inline script anywhere; behaviour hangs on data-*. */
(function () {
  "use strict";

  // Print and copy buttons (the receipt).
  document.addEventListener("click", function (event) {
    var printer = event.target.closest("[data-print]");
    if (printer) {
      event.preventDefault();
      window.print();
      return;
    }
    var copier = event.target.closest("[data-copy]");
    if (copier) {
      event.preventDefault();
      var input = document.getElementById(copier.getAttribute("data-copy"));
      if (!input) return;
      input.select();
      var done = function () {
        copier.textContent = copier.getAttribute("data-copied") || copier.textContent;
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {});
      } else if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    }
  });

  // One submit per form: a second tap on a slow network would try to register the pack twice.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-once")) return;
    if (form.getAttribute("data-sent")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "1");
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = true;
      if (button.getAttribute("data-busy")) button.textContent = button.getAttribute("data-busy");
    });
  });
  // Coming back with the browser's Back button restores a page whose submit button is disabled.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      form.removeAttribute("data-sent");
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.disabled = false;
      });
    });
  });

  // Phone cameras take 3-5 MB pictures; the server keeps at most 1600 px anyway. Scaling down
  // before the upload turns a half-minute upload on a weak network into a couple of seconds.
  function shrinkPhoto(input) {
    var file = input.files && input.files[0];
    var maxSide = parseInt(input.getAttribute("data-max-side"), 10);
    if (!file || !maxSide || !window.createImageBitmap || !window.DataTransfer) return;
    if (!/^image\/(jpeg|png|webp)$/.test(file.type)) return;
    createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
      if (scale >= 1) return;
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(
        function (blob) {
          if (!blob || blob.size >= file.size || input.files[0] !== file) return;
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          var transfer = new DataTransfer();
          transfer.items.add(new File([blob], name, { type: "image/jpeg" }));
          input.files = transfer.files;
        },
        "image/jpeg",
        0.85
      );
    }).catch(function () { /* keep the original file: the server checks it */ });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[type=file][data-max-side]")) {
      shrinkPhoto(event.target);
    }
  });

  // A page answering a POST (the full ID number, shown once) puts the page's own address in the
  // address bar: a reload or a shared link does not repeat the POST.
  var canonical = document.querySelector("[data-replace-url]");
  if (canonical && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", canonical.getAttribute("data-replace-url"));
  }

  // After a failed submit, the summary of the errors (each linked to its field) takes the
  // focus, so it is read out and the first fault is one tab away — not 1 000 px down.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) return;
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      target.focus();
      target.scrollIntoView({ block: "center" });
    });
  }

  // Validation as the clerk leaves each field, through the form's own validate endpoint
  // (the same checks and messages as the submit; nothing is written). Only fields the clerk
  // has already visited show messages; photos are not sent until the real submit.
  var form = document.querySelector("form[data-validate-url]");
  if (!form || !window.fetch || !window.FormData) return;
  var url = form.getAttribute("data-validate-url");
  var touched = {};
  var timer = null;
  var unavailable = false;
  var sequence = 0;

  function show(errors) {
    Object.keys(touched).forEach(function (name) {
      var box = form.querySelector('[data-errors-for="' + name + '"]');
      if (!box) return;
      var messages = errors[name] || [];
      box.textContent = "";
      if (messages.length) {
        var list = document.createElement("ul");
        list.className = "errorlist";
        list.id = "id_" + name + "_error";
        messages.forEach(function (message) {
          var item = document.createElement("li");
          item.textContent = String(message);
          list.appendChild(item);
        });
        box.appendChild(list);
      }
      var el = document.getElementById("id_" + name);
      if (el && el.tagName !== "DIV") {
        // The help text stays described; the error joins it while there is one, and a removed
        // error list is never pointed at.
        var help = document.getElementById("id_" + name + "_helptext");
        var ids = help ? [help.id] : [];
        if (messages.length) {
          el.setAttribute("aria-invalid", "true");
          ids.push("id_" + name + "_error");
        } else {
          el.removeAttribute("aria-invalid");
        }
        if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
        else el.removeAttribute("aria-describedby");
      }
    });
  }

  function check() {
    if (unavailable) return;
    var body = new FormData(form);
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (input) {
      body.delete(input.name);
    });
    var mine = ++sequence;
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: body
    }).then(function (response) {
      if (response.ok) return response.json();
      unavailable = response.status === 403 || response.status === 404;
      return null;
    }).then(function (result) {
      // An older answer arriving after a newer one must not undo it.
      if (result && mine === sequence) show(result.errors || {});
    }).catch(function () { /* offline or slow: the server checks again on submit */ });
  }

  form.addEventListener("focusout", function (event) {
    var el = event.target;
    if (!el.name || el.type === "file" || el.type === "hidden" || el.type === "submit") return;
    if (!el.value && el.type !== "checkbox" && el.type !== "radio") return;
    touched[el.name] = true;
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 200);
  });
})();

// A page following a running job (an export, a reconciliation run, a rule-set preview): the
// region marked data-live="N" (with an id) is read again from the same address every N seconds
// and replaced by its fresh copy, until the fresh copy no longer carries data-live. The rest of
// the page (a form being filled, the reader's place) stays as it is. Without a script the page
// refreshes itself whole (a meta refresh inside <noscript>).
(function () {
  if (!window.fetch || !window.DOMParser) return;
  function follow(region) {
    var seconds = parseInt(region.getAttribute("data-live"), 10) || 3;
    window.setTimeout(function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) { follow(region); return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById(region.id);
          if (!fresh) return;
          fresh = document.importNode(fresh, true);
          region.replaceWith(fresh);
          if (fresh.hasAttribute("data-live")) follow(fresh);
        })
        .catch(function () { follow(region); });  // offline for a moment: try again
    }, seconds * 1000);
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-live][id]"), follow);
})();
