/**
 * One line of a script a test runs inside a bottle to try a write it must not
 * make: it prints `<name>: written` or `<name>: refused`, so the test asserts
 * on what the attack achieved rather than on how the shell failed.
 */
export function attempt(name: string, command: string): string {
  return `if (${command}) 2>/dev/null; then echo "${name}: written"; else echo "${name}: refused"; fi`;
}
