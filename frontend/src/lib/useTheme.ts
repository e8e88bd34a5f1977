import { useEffect, useState } from "react";
import { useAppSelector } from "../store";
import { resolveTheme } from "../store/theme";

const DARK_QUERY = "(prefers-color-scheme: dark)";

/** Applies the chosen theme to <html data-theme>, following the system when set to "system". */
export function useTheme(): "light" | "dark" {
  const theme = useAppSelector((state) => state.theme);
  const [prefersDark, setPrefersDark] = useState(
    () => window.matchMedia?.(DARK_QUERY).matches ?? false,
  );
  useEffect(() => {
    const query = window.matchMedia?.(DARK_QUERY);
    if (!query) return;
    const listener = (event: MediaQueryListEvent) => setPrefersDark(event.matches);
    query.addEventListener("change", listener);
    return () => query.removeEventListener("change", listener);
  }, []);
  const resolved = resolveTheme(theme, prefersDark);
  useEffect(() => {
    document.documentElement.dataset.theme = resolved;
  }, [resolved]);
  return resolved;
}

/** The theme currently on the page (for components such as charts that style themselves). */
export function useResolvedTheme(): "light" | "dark" {
  const theme = useAppSelector((state) => state.theme);
  const prefersDark = window.matchMedia?.(DARK_QUERY).matches ?? false;
  return resolveTheme(theme, prefersDark);
}
