/**
 * debounce.js - rate-limiting helpers for event handlers in the browser.
 *
 * Some events fire far more often than an application needs: `input` fires on
 * every keystroke, `scroll` and `resize` can fire dozens of times per second.
 * Running expensive work (a network request, a layout calculation) on each one
 * wastes CPU and can make a page feel sluggish.
 *
 *  - debounce(fn, wait): run fn only after the events have STOPPED for `wait`
 *    milliseconds. Good for search-as-you-type and auto-saving drafts.
 *  - throttle(fn, interval): run fn at most once every `interval`
 *    milliseconds while events keep coming. Good for scroll position tracking.
 */

"use strict";

/**
 * Create a debounced version of `fn`.
 *
 * @param {Function} fn      The function to delay.
 * @param {number}   wait    Quiet period in milliseconds.
 * @param {Object}   [opts]
 * @param {boolean}  [opts.leading=false]  Also call on the first event of a burst.
 * @returns {Function} The debounced function, with `.cancel()` and `.flush()`.
 */
function debounce(fn, wait, { leading = false } = {}) {
  let timer = null;
  let lastArgs = null;
  let lastThis = null;

  function invoke() {
    const args = lastArgs;
    const self = lastThis;
    lastArgs = lastThis = null;
    return fn.apply(self, args);
  }

  function debounced(...args) {
    lastArgs = args;
    lastThis = this;
    const callNow = leading && timer === null;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      // With `leading`, the first call already ran and cleared lastArgs, so
      // this only runs again if more calls arrived during the quiet period.
      if (lastArgs !== null) invoke();
    }, wait);
    if (callNow) invoke();
  }

  /** Drop any pending call. */
  debounced.cancel = () => {
    clearTimeout(timer);
    timer = null;
    lastArgs = lastThis = null;
  };

  /** Run the pending call immediately, if there is one. */
  debounced.flush = () => {
    if (timer !== null && lastArgs !== null) {
      clearTimeout(timer);
      timer = null;
      invoke();
    }
  };

  return debounced;
}

/**
 * Create a throttled version of `fn` that runs at most once per `interval` ms.
 * The last call in a burst is not lost: it runs when the interval ends.
 */
function throttle(fn, interval) {
  let lastRun = 0;
  let trailing = null;
  let pendingArgs = null;
  let pendingThis = null;

  return function throttled(...args) {
    const now = Date.now();
    const remaining = interval - (now - lastRun);
    if (remaining <= 0) {
      clearTimeout(trailing);
      trailing = null;
      lastRun = now;
      fn.apply(this, args);
      return;
    }
    // Too soon: remember the newest arguments and schedule one trailing call.
    pendingArgs = args;
    pendingThis = this;
    if (trailing === null) {
      trailing = setTimeout(() => {
        lastRun = Date.now();
        trailing = null;
        fn.apply(pendingThis, pendingArgs);
        pendingArgs = pendingThis = null;
      }, remaining);
    }
  };
}

// Example: search as the user types, but only after a 300 ms pause.
//
//   const box = document.querySelector("#search");
//   const search = debounce((q) => fetch(`/search?q=${encodeURIComponent(q)}`), 300);
//   box.addEventListener("input", (e) => search(e.target.value));

if (typeof module !== "undefined") {
  module.exports = { debounce, throttle };
}
