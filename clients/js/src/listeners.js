/**
 * Named listeners. A listener that throws never stops delivery to the others nor reaches the client's loop:
 * its error goes to `onListenerError`.
 */
export class Listeners {
  /** @type {Map<string, Set<(value: any) => void>>} */
  #byName = new Map();

  /** @param {(error: unknown, name: string) => void} onListenerError */
  constructor(onListenerError) {
    this.onListenerError = onListenerError;
  }

  /**
   * @param {string} name
   * @param {(value: any) => void} listener
   * @returns {() => void} removes the listener
   */
  on(name, listener) {
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    let set = this.#byName.get(name);
    if (!set) this.#byName.set(name, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * @param {string} name
   * @param {unknown} value
   */
  emit(name, value) {
    for (const listener of [...(this.#byName.get(name) ?? [])]) {
      try {
        listener(value);
      } catch (error) {
        this.onListenerError(error, name);
      }
    }
  }
}
