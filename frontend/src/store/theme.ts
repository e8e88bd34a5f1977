// Light, dark, or whatever the system prefers.
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";

export type Theme = "light" | "dark" | "system";

const initialState = "system" as Theme;

const slice = createSlice({
  name: "theme",
  initialState,
  reducers: {
    themeChosen: (_state, action: PayloadAction<Theme>) => action.payload,
  },
});

export const { themeChosen } = slice.actions;
export default slice.reducer;

export function resolveTheme(theme: Theme, prefersDark: boolean): "light" | "dark" {
  if (theme === "system") return prefersDark ? "dark" : "light";
  return theme;
}
