import { useAppDispatch, useAppSelector } from "../store";
import { themeChosen, type Theme } from "../store/theme";
import { useResolvedTheme } from "../lib/useTheme";

export function ThemeToggle() {
  const dispatch = useAppDispatch();
  const theme = useAppSelector((state) => state.theme);
  const resolved = useResolvedTheme();
  const next: Theme = resolved === "dark" ? "light" : "dark";
  return (
    <button
      type="button"
      className="button-quiet theme-toggle"
      aria-label={`Switch to ${next} theme`}
      title={theme === "system" ? "Following the system theme" : `Theme: ${theme}`}
      onClick={() => dispatch(themeChosen(next))}
    >
      <span aria-hidden="true">{resolved === "dark" ? "☀" : "☾"}</span>
    </button>
  );
}
