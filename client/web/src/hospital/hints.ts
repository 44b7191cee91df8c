/**
 * The hospital's next step after a contract refusal, by the contract's error name, where it differs from a
 * patient's (client/error-view.ts words those).
 */
export const HOSPITAL_HINTS: Readonly<Record<string, string>> = {
  NotAuthorizedRequester: "ask the patient for a new consent: a revoked or expired consent stops new requests at once",
  NoConsent: "ask the patient for a new consent: a revoked or expired consent stops new requests at once",
  ModelIsDeprecated: "choose a current version of the model, or publish a new version",
  ModelPublisherRevoked: "this hospital is no longer registered; governance must register it again",
  RecordIsErased: "the patient erased this record; choose another of their records",
  UnknownRecord: "choose one of the records the patient anchored",
  UnknownModel: "choose one of your published models",
  ModelVersionNotNext: "set the file's version to the one the sentence names, then pick the file again",
  ModelAlreadyPublished: "this exact file is already published: its model id is in your models list",
  NotModelPublisher: "only the hospital that published a model can deprecate it",
  AccessControlUnauthorizedAccount: "connect the hospital's wallet; governance registers hospitals (npm run admin -- register-hospital)",
  NotAHospital: "connect the hospital's wallet; governance registers hospitals (npm run admin -- register-hospital)",
};
