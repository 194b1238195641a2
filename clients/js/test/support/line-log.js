/** A child process's output as lines, with waits for a line to appear (instead of sleeping). */
export class LineLog {
  /** @type {string[]} */
  lines = [];
  #partial = "";
  /** @type {Set<() => void>} */
  #watchers = new Set();
  /** @type {string | null} */
  ended = null;

  /** @param {string} chunk */
  add(chunk) {
    const parts = (this.#partial + chunk).split("\n");
    this.#partial = parts.pop() ?? "";
    this.lines.push(...parts);
    this.#notify();
  }

  /** @param {string} why */
  end(why) {
    if (this.#partial) this.lines.push(this.#partial);
    this.#partial = "";
    this.ended = why;
    this.#notify();
  }

  /** A position, to wait for lines printed after it. */
  mark() {
    return this.lines.length;
  }

  /**
   * The first line after `since` that matches.
   * @param {RegExp} pattern
   * @param {{since?: number, timeoutMs?: number}} [options]
   * @returns {Promise<RegExpMatchArray>}
   */
  waitFor(pattern, { since = 0, timeoutMs = 20000 } = {}) {
    return new Promise((resolve, reject) => {
      let position = since;
      const check = () => {
        for (; position < this.lines.length; position += 1) {
          const found = this.lines[position].match(pattern);
          if (found) return finish(() => resolve(found));
        }
        if (this.ended) finish(() => reject(new Error(`${this.ended} before a line matched ${pattern}:\n${this.tail()}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no line matched ${pattern} within ${timeoutMs} ms:\n${this.tail()}`))),
        timeoutMs,
      );
      const finish = (settle) => {
        clearTimeout(timer);
        this.#watchers.delete(check);
        settle();
      };
      this.#watchers.add(check);
      check();
    });
  }

  tail(count = 40) {
    return this.lines.slice(-count).join("\n");
  }

  #notify() {
    for (const watcher of [...this.#watchers]) watcher();
  }
}
