import { useEffect, useRef, useState } from "react";
import { useResolvedTheme } from "../lib/useTheme";

interface Props {
  spec: Record<string, unknown>;
  title: string | null;
}

/** A Vega-Lite chart through vega-embed (loaded with this component, not with the page). */
export default function ChartView({ spec, title }: Props) {
  const container = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const theme = useResolvedTheme();

  useEffect(() => {
    let finalize: (() => void) | undefined;
    let cancelled = false;
    void import("vega-embed")
      .then(({ default: embed }) => {
        if (cancelled || !container.current) return undefined;
        // vega annotates the data it is given: hand it a copy, not the store's frozen output
        const copy = structuredClone(spec);
        return embed(container.current, { width: "container", ...copy } as never, {
          actions: { export: true, source: false, compiled: false, editor: false },
          theme: theme === "dark" ? "dark" : undefined,
          config: { background: "transparent" },
          renderer: "svg",
        });
      })
      .then((result) => {
        if (!result) return;
        if (cancelled) result.finalize();
        else finalize = () => result.finalize();
      })
      .catch((caught: unknown) => setError(String(caught)));
    return () => {
      cancelled = true;
      finalize?.();
    };
  }, [spec, theme]);

  return (
    <figure className="chart-view">
      {title && <figcaption>{title}</figcaption>}
      <div ref={container} className="chart" data-testid="chart" />
      {error && (
        <p className="error" role="alert">
          The chart could not be drawn: {error}
        </p>
      )}
    </figure>
  );
}
