// The digital OMS policy at the kiosk: the ЕРЗЛ's record (MyInsurancePolicy, graphql/kiosk/) and its printout
// (GET /api/v1/insurance/policy.pdf with the kiosk session's token).
import { expect } from "../api.js";

export async function open({ api, session, printPdf }) {
  const data = await api.run("MyInsurancePolicy", {}, session.accessToken);
  const policy = expect(data.myInsurancePolicy, "InsurancePolicy");
  await printPdf("/api/v1/insurance/policy.pdf", {
    printing: "Печатаем полис ОМС…",
    unavailable: "Полис сейчас не напечатать. Обратитесь в регистратуру.",
    printed: `Полис ОМС напечатан: ${policy.enp}, ${policy.insurer ? policy.insurer.name : policy.statusLabel}. Возьмите его из лотка.`,
    mark: "insurance-policy",
  });
}
