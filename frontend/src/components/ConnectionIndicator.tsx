import { useAppSelector } from "../store";
import { INDICATOR_LABEL, indicator } from "../store/connection";

export function ConnectionIndicator() {
  const state = useAppSelector((s) => indicator(s.connection));
  return (
    <span className="connection" data-state={state} role="status" aria-live="polite">
      <span className="connection-dot" aria-hidden="true" />
      <span className="connection-label">{INDICATOR_LABEL[state]}</span>
    </span>
  );
}
