"""The reference: a bare Django view that calls execute once per request, no batching."""
