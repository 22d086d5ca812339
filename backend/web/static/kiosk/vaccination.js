// The vaccination certificate at the kiosk: issued for the session's patient (PrintVaccinationCertificate,
// graphql/kiosk/; signed, with a QR code to check it) and printed from its pdfUrl with the same token.
import { expect, key } from "../api.js";

export async function open({ api, session, printPdf }) {
  const data = await api.run("PrintVaccinationCertificate", { idempotencyKey: key() }, session.accessToken);
  const certificate = expect(data.issueVaccinationCertificate, "VaccinationCertificateIssued").certificate;
  await printPdf(certificate.pdfUrl, {
    printing: "Печатаем сертификат о прививках…",
    unavailable: "Сертификат сейчас не напечатать. Обратитесь в регистратуру.",
    printed: `Сертификат о прививках напечатан (прививок: ${certificate.vaccinations}). Возьмите его из лотка.`,
    mark: "vaccination-certificate",
  });
}
