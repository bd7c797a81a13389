import { inspect } from "node:util";

const MASK = "******";

/**
 * A value that must not reach a log line, an error message or a JSON dump by accident: every way
 * of turning it into text shows a mask, and only `reveal()` gives the value.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
    Object.freeze(this);
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return `Secret(${MASK})`;
  }
}
