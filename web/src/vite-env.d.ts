// The public build-time variables the page reads: the schema's `public` plane, nothing else.
interface ImportMetaEnv {
  readonly VITE_SUPABASE_URL?: string
  readonly VITE_SUPABASE_ANON_KEY?: string
  readonly VITE_SUPABASE_ANON_KEY_ASYMMETRIC?: string
}

interface ImportMeta {
  readonly env: ImportMetaEnv
}
