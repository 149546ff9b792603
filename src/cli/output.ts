/** Where a command writes what it prints (stdout and stderr; tests capture both). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}
