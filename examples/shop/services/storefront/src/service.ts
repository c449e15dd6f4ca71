/** Names fixed when the service was generated. */

/** This app's name: OpenTelemetry's default service.name. */
export const SERVICE_NAME = "storefront";

/** The backend whose API the example page calls, at `<API_BASE_URL>/api/<API_SERVICE>` (the gateway's route). */
export const API_SERVICE = "orders";
