import type { BackendContext, PhaseName } from "@claude-bottle/core";
import type { EngineMessage } from "./json-stream.js";

/**
 * Sums the per-layer byte counts of a pull or push into one figure, so a
 * renderer shows a single bar instead of one line per layer.
 */
export function layerProgress(ctx: Pick<BackendContext, "emit">, phase: PhaseName, verb: string): (message: EngineMessage) => void {
  const layers = new Map<string, { current: number; total: number }>();
  return (message) => {
    if (!message.status) return;
    const detail = message.progressDetail;
    const layer = message.id ? layers.get(message.id) : undefined;
    // The last byte count of a layer is rarely its total: its "Pushed" or "Download complete" says it is done.
    if (layer && /^(Pushed|Download complete|Pull complete|Layer already exists)/.test(message.status)) {
      layer.current = layer.total;
    } else if (message.id && detail?.total) {
      layers.set(message.id, { current: detail.current ?? 0, total: detail.total });
    }
    if (message.id && layers.has(message.id)) {
      let current = 0;
      let total = 0;
      for (const counts of layers.values()) {
        current += counts.current;
        total += counts.total;
      }
      ctx.emit({ type: "progress", phase, message: `${verb} ${layers.size} layer${layers.size === 1 ? "" : "s"}`, current, total });
      return;
    }
    const line = message.id ? `${message.id}: ${message.status}` : message.status;
    ctx.emit({ type: "output", phase, line });
  };
}
