/**
 * A desktop notification through node-notifier (Notification Center on macOS,
 * toasts on Windows, notify-send on a Linux desktop), loaded only when one is
 * raised. Where there is no desktop (no display or session bus on Linux, no
 * notifier program, an SSH session) nothing is shown and nothing said: the
 * terminal's bell has already told the user.
 */
export async function notifyDesktop(title: string, message: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<void> {
  if (process.platform === "linux" && !env.DBUS_SESSION_BUS_ADDRESS && !env.DISPLAY && !env.WAYLAND_DISPLAY) return;
  try {
    const { default: notifier } = await import("node-notifier");
    await new Promise<void>((resolve) => notifier.notify({ title, message, wait: false }, () => resolve()));
  } catch {
    // No notifier on this machine: the bell stands alone.
  }
}
