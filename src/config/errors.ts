/** A configuration the user must fix: the CLI prints its message (which names the flag) and exits 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
