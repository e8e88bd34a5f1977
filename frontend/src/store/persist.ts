// What survives a reload: form drafts, the theme, and the sign-in session.
import type { Session } from "../features/auth/session";
import type { FormData } from "./forms";
import type { Theme } from "./theme";

const KEY = "nanobrain.ui.v1";

export interface Persisted {
  drafts: Record<string, FormData>;
  theme: Theme;
  session: Session | null;
}

const EMPTY: Persisted = { drafts: {}, theme: "system", session: null };

export function loadPersisted(storage: Storage | undefined = globalThis.localStorage): Persisted {
  try {
    const raw = storage?.getItem(KEY);
    if (!raw) return EMPTY;
    const parsed = JSON.parse(raw) as Partial<Persisted>;
    return {
      drafts: typeof parsed.drafts === "object" && parsed.drafts !== null ? parsed.drafts : {},
      theme: parsed.theme === "light" || parsed.theme === "dark" ? parsed.theme : "system",
      session: parsed.session ?? null,
    };
  } catch {
    return EMPTY; // unreadable (or storage disabled): start fresh
  }
}

export function savePersisted(
  value: Persisted,
  storage: Storage | undefined = globalThis.localStorage,
): void {
  try {
    storage?.setItem(KEY, JSON.stringify(value));
  } catch {
    // full or disabled storage: drafts are a convenience, never a reason to fail
  }
}
