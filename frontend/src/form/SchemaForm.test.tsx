import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createStore } from "../store";
import { complexSchema, workflow } from "../test/schemas";
import { SchemaForm } from "./SchemaForm";

/** Click, then let the form's asynchronous validation and submit settle. */
async function clickAndSettle(element: HTMLElement): Promise<void> {
  fireEvent.click(element);
  await Promise.resolve();
}

afterEach(cleanup);

function renderForm(schema: Record<string, unknown>, onSubmit = vi.fn()) {
  const store = createStore({ drafts: {}, theme: "system", session: null });
  render(
    <Provider store={store}>
      <SchemaForm formKey="test" schema={schema} onSubmit={onSubmit}>
        <button type="submit">Run</button>
      </SchemaForm>
    </Provider>,
  );
  return { store, onSubmit };
}

describe("SchemaForm", () => {
  it("renders an upload zone for sequence-analysis's FASTA file", () => {
    renderForm(workflow("sequence-analysis").input_schema);
    expect(screen.getByTestId("file-root_fasta")).toBeTruthy();
    expect(screen.getByText(/Drop a file here/)).toBeTruthy();
  });

  it("renders nested objects, enums, lists and booleans of a complex schema", () => {
    renderForm(complexSchema);
    const mode = screen.getByLabelText<HTMLSelectElement>(/Mode/);
    expect(mode.selectedOptions[0]?.textContent).toBe("fast");
    expect([...mode.options].map((o) => o.textContent)).toContain("accurate");
    expect(screen.getByLabelText<HTMLInputElement>(/Threads/).value).toBe("4");
    expect(screen.getByLabelText(/Verbose/)).toBeTruthy();
    expect(screen.getByTestId("file-root_reference")).toBeTruthy();
    expect(screen.getAllByRole("button", { name: /add/i }).length).toBeGreaterThan(0);
  });

  it("validates against the schema before submitting, then submits what was typed", async () => {
    const { onSubmit, store } = renderForm(workflow("simulation").input_schema);
    const steps = screen.getByLabelText<HTMLInputElement>(/^Steps/);
    fireEvent.change(steps, { target: { value: "0" } });
    await act(() => clickAndSettle(screen.getByRole("button", { name: "Run" })));
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByText(/must be >= 1/)).toBeTruthy();

    fireEvent.change(steps, { target: { value: "3" } });
    await act(() => clickAndSettle(screen.getByRole("button", { name: "Run" })));
    expect(onSubmit).toHaveBeenCalledWith({ steps: 3, step_seconds: 0.5, seed: 0 });
    expect(store.getState().forms.test?.present).toMatchObject({ steps: 3 });
  });

  it("undoes an edit with the button and with Ctrl+Z", async () => {
    renderForm(workflow("echo").input_schema);
    const message = screen.getByLabelText<HTMLInputElement>(/Message/);
    fireEvent.change(message, { target: { value: "first" } });
    await new Promise((resolve) => setTimeout(resolve, 850));
    fireEvent.change(message, { target: { value: "second" } });
    fireEvent.click(screen.getByRole("button", { name: "Undo" }));
    expect(screen.getByLabelText<HTMLInputElement>(/Message/).value).toBe("first");
    fireEvent.keyDown(screen.getByLabelText(/Message/), { key: "y", ctrlKey: true });
    expect(screen.getByLabelText<HTMLInputElement>(/Message/).value).toBe("second");
    fireEvent.keyDown(screen.getByLabelText(/Message/), { key: "z", ctrlKey: true });
    expect(screen.getByLabelText<HTMLInputElement>(/Message/).value).toBe("first");
  });
});
