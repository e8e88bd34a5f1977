// Administration: health and metrics, users, API keys, the audit log.
import { api } from "../../api/api";
import { itemsOf, type ListReply } from "../../api/client";
import type {
  AdminUser,
  ApiKey,
  ApiKeyCreate,
  ApiKeyCreated,
  AuditEntry,
  Health,
  UserCreate,
  UserUpdate,
} from "../../api/types";

export const adminApi = api.injectEndpoints({
  endpoints: (build) => ({
    health: build.query<Health, void>({ query: () => "health", providesTags: ["Health"] }),
    /** Prometheus text exposition. */
    metrics: build.query<string, void>({ query: () => "metrics", providesTags: ["Health"] }),
    users: build.query<AdminUser[], void>({
      query: () => "admin/users",
      transformResponse: (reply: ListReply<AdminUser>) => itemsOf(reply),
      providesTags: ["User"],
    }),
    addUser: build.mutation<AdminUser, UserCreate>({
      query: (body) => ({ url: "admin/users", method: "POST", body }),
      invalidatesTags: ["User"],
    }),
    changeUser: build.mutation<AdminUser, { id: string; change: UserUpdate }>({
      query: ({ id, change }) => ({
        url: `admin/users/${encodeURIComponent(id)}`,
        method: "PATCH",
        body: change,
      }),
      invalidatesTags: ["User"],
    }),
    deleteUser: build.mutation<null, string>({
      query: (id) => ({ url: `admin/users/${encodeURIComponent(id)}`, method: "DELETE" }),
      invalidatesTags: ["User"],
    }),
    apiKeys: build.query<ApiKey[], void>({
      query: () => "auth/api-keys",
      transformResponse: (reply: ListReply<ApiKey>) => itemsOf(reply),
      providesTags: ["ApiKey"],
    }),
    createApiKey: build.mutation<ApiKeyCreated, ApiKeyCreate>({
      query: (body) => ({ url: "auth/api-keys", method: "POST", body }),
      invalidatesTags: ["ApiKey"],
    }),
    revokeApiKey: build.mutation<null, string>({
      query: (id) => ({ url: `auth/api-keys/${encodeURIComponent(id)}`, method: "DELETE" }),
      invalidatesTags: ["ApiKey"],
    }),
    audit: build.query<AuditEntry[], { limit: number }>({
      query: (params) => ({ url: "admin/audit", params }),
      transformResponse: (reply: ListReply<AuditEntry>) => itemsOf(reply),
      providesTags: ["Audit"],
    }),
  }),
});

export const {
  useHealthQuery,
  useMetricsQuery,
  useUsersQuery,
  useAddUserMutation,
  useChangeUserMutation,
  useDeleteUserMutation,
  useApiKeysQuery,
  useCreateApiKeyMutation,
  useRevokeApiKeyMutation,
  useAuditQuery,
} = adminApi;
