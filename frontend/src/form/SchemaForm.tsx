// A form generated from a JSON Schema alone, with the draft (and its undo/redo history) kept in
// the store under `formKey`.
import Form from "@rjsf/core";
import type { ErrorSchema, RegistryWidgetsType } from "@rjsf/utils";
import { customizeValidator } from "@rjsf/validator-ajv8";
import { useCallback, useMemo, type KeyboardEvent, type ReactNode } from "react";
import type { JsonSchema } from "../api/types";
import { useAppDispatch, useAppSelector } from "../store";
import { canRedo, canUndo, edited, redone, undone, type FormData } from "../store/forms";
import { adaptSchema, FILE_WIDGET } from "./adapt";
import { FileWidget } from "./FileWidget";

// `format: "file"` is NanoBrain's (the value is a file_id); the server checks that the id exists.
const validator = customizeValidator({ customFormats: { file: () => true } });
const widgets: RegistryWidgetsType = { [FILE_WIDGET]: FileWidget };

interface Props {
  formKey: string;
  schema: JsonSchema;
  onSubmit: (data: FormData) => void;
  serverErrors?: ErrorSchema;
  disabled?: boolean;
  children?: ReactNode;
}

export function SchemaForm({ formKey, schema, onSubmit, serverErrors, disabled, children }: Props) {
  const dispatch = useAppDispatch();
  const history = useAppSelector((state) => state.forms[formKey]);
  const adapted = useMemo(() => adaptSchema(schema), [schema]);
  const data = history?.present ?? {};

  const undo = useCallback(() => dispatch(undone(formKey)), [dispatch, formKey]);
  const redo = useCallback(() => dispatch(redone(formKey)), [dispatch, formKey]);
  const onKeyDown = (event: KeyboardEvent) => {
    if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "z" && !event.shiftKey && canUndo(history)) {
      event.preventDefault();
      undo();
    } else if ((key === "y" || (key === "z" && event.shiftKey)) && canRedo(history)) {
      event.preventDefault();
      redo();
    }
  };

  return (
    <div className="schema-form" onKeyDown={onKeyDown}>
      <div className="form-history" role="group" aria-label="Edit history">
        <button type="button" className="button-quiet" onClick={undo} disabled={!canUndo(history)}>
          Undo
        </button>
        <button type="button" className="button-quiet" onClick={redo} disabled={!canRedo(history)}>
          Redo
        </button>
      </div>
      <Form
        schema={adapted.schema}
        uiSchema={adapted.uiSchema}
        formData={data}
        validator={validator}
        widgets={widgets}
        disabled={disabled}
        extraErrors={serverErrors}
        liveValidate="onBlur"
        showErrorList={false}
        noHtml5Validate
        onChange={(event) =>
          dispatch(
            edited({ key: formKey, data: (event.formData ?? {}) as FormData, at: Date.now() }),
          )
        }
        onSubmit={(event) => onSubmit((event.formData ?? {}) as FormData)}
      >
        {children}
      </Form>
    </div>
  );
}
