// @getodk/web-forms 0.22 ships no type declarations (its package.json points at a missing
// index.d.ts): the little of its API the dashboard uses, as read from its README and bundle.
declare module '@getodk/web-forms' {
  import type { App, DefineComponent } from 'vue';

  /** `data[0]` is a FormData with `xml_submission_file` (the instance XML) and the attachments. */
  export interface MonolithicInstancePayload {
    payloadType: 'monolithic';
    status: 'ready' | 'pending' | 'max-size-exceeded';
    submissionMeta: { name: string; instanceID: string; deprecatedID?: string | null };
    data: [FormData];
  }
  export type HostSubmissionResultCallback = (result?: { next?: symbol } | Promise<{ next?: symbol } | undefined>) => void;

  export interface EditInstanceOptions {
    resolveInstance: () => Promise<string | Blob | Response>;
    attachmentFileNames: readonly string[];
    resolveAttachment: (name: string) => Promise<Response>;
  }

  export const OdkWebForm: DefineComponent<{
    formXml: string;
    fetchFormAttachment: (url: URL) => Promise<Response>;
    missingResourceBehavior?: 'ERROR' | 'BLANK';
    submissionMaxSize?: number;
    editInstance?: EditInstanceOptions;
    trackDevice?: boolean;
  }>;
  export const POST_SUBMIT__NEW_INSTANCE: unique symbol;
  export const webFormsPlugin: { install(app: App): void };
}
