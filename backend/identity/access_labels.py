"""What a patient reads in ``myAccessLog``: a Russian name for every audited action and every outcome.

Every domain's audit actions (``uow.audit("booking.appointment_booked")``), every mutation (``@atomic``
audits it under its field name) and every refusal code a problem carries need a name here; a test
fails on one without. Unknown keys still never reach a person raw: they get a general name.
"""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    # identity
    "identity.login": "Вход через Госуслуги",
    "identity.token_issued": "Вход в приложение",
    "identity.token_refresh": "Продление сеанса",
    "identity.code_exchange": "Обмен кода входа",
    "identity.logout": "Выход",
    "identity.staff_login": "Вход оператора 122",
    "identity.kiosk_login": "Вход инфомата",
    "identity.on_behalf_opened": "Оператор 122 открыл сеанс от вашего имени",
    "identity.on_behalf_elevated": "Личность подтверждена кодом из СМС",
    "identity.kiosk_identified": "Идентификация на инфомате",
    "identity.identification_failed": "Неудачная попытка идентификации",
    "identity.proxy_requested": "Запрос доверенности",
    "identity.proxy_granted": "Доверенность подтверждена",
    "identity.proxy_revoked": "Доверенность отозвана",
    "identity.guardianship_declared": "Заявление о законном представительстве",
    "identity.guardianship_confirmed": "Законное представительство подтверждено",
    "identity.guardianship_rejected": "Заявление о представительстве отклонено",
    "patient.profile.read": "Просмотр профиля",
    "patient.access_log.read": "Просмотр журнала доступа",
    "access.denied": "Отказ в доступе",
    "access.confirmation_required": "Нужно подтверждение кодом из СМС",
    # documents
    "documents.synced": "Получены новые медицинские документы",
    "documents.document_read": "Просмотр медицинского документа",
    "documents.document_downloaded": "Скачивание медицинского документа",
    "documents.profile_read": "Просмотр медицинского профиля",
    "documents.existence_read": "Оператор 122 просмотрел перечень документов (без содержания)",
    "documents.profile_entry_added": "Добавлена запись в медицинский профиль",
    "documents.profile_entry_removed": "Удалена запись из медицинского профиля",
    "documents.emergency_profile_set": "Изменен экстренный профиль",
    "documents.emergency_profile_read": "Просмотр экстренного профиля бригадой скорой помощи",
    "documents.access_granted": "Открыт доступ врачу",
    "documents.access_revoked": "Доступ врача отозван",
    "documents.access_claimed": "Врач принял доступ по коду",
    "documents.doctor_profile_read": "Врач просмотрел медицинский профиль",
    "documents.doctor_document_read": "Врач просмотрел медицинский документ",
    "documents.doctor_read_refused": "Врачу отказано в доступе",
    # home visits, attachment
    "requestHomeVisit": "Вызов врача на дом",
    "home_visit.requested": "Вызов врача на дом оформлен",
    "cancelHomeVisit": "Отмена вызова врача на дом",
    "home_visit.cancelled": "Вызов врача на дом отменён",
    "home_visit.status_changed": "Изменение состояния вызова врача на дом",
    "home_visit.visits_read": "Просмотр вызовов врача на дом",
    "applyForAttachment": "Заявление о прикреплении к поликлинике",
    "attachment.application_submitted": "Заявление о прикреплении отправлено",
    "attachment.application_status_changed": "Изменение состояния заявления о прикреплении",
    "attachment.read": "Просмотр прикрепления к поликлинике",
    # booking
    "booking.hold": "Бронирование времени приема",
    "booking.hold_released": "Бронь времени снята",
    "booking.appointment_booked": "Запись на прием",
    "booking.appointment_cancel": "Отмена записи",
    "booking.appointment_rescheduled": "Перенос записи",
    "booking.appointment_renumbered": "Запись обновлена по данным клиники",
    "booking.status_synced": "Статус записи обновлен по данным клиники",
    "booking.appointments_read": "Просмотр записей к врачу",
    "booking.ticket_printed": "Печать талона",
    # notifications
    "notifications.inbox.mark_read": "Уведомления прочитаны",
    "notifications.preferences.update": "Изменены настройки уведомлений",
    "notifications.push_device.register": "Подключено устройство для уведомлений",
    # directory
    "directory.sync": "Обновление справочника",
    # documents
    "documents.list_read": "Просмотр списка медицинских документов",
    # mutations (audited under their field name by @atomic)
    "staffLogin": "Вход оператора 122",
    "openOnBehalfSession": "Оператор 122 открыл сеанс от вашего имени",
    "confirmOnBehalfCode": "Подтверждение кодом из СМС",
    "identifyAtKiosk": "Идентификация на инфомате",
    "grantProxy": "Запрос доверенности",
    "confirmProxyGrant": "Подтверждение доверенности",
    "revokeProxyGrant": "Отзыв доверенности",
    "declareGuardianship": "Заявление о законном представительстве",
    "confirmGuardianship": "Рассмотрение заявления о представительстве",
    "holdSlot": "Бронирование времени приема",
    "releaseHold": "Отмена брони времени",
    "confirmAppointment": "Подтверждение записи",
    "bookAppointment": "Запись на прием",
    "cancelAppointment": "Отмена записи",
    "rescheduleAppointment": "Перенос записи",
    "updateNotificationPreferences": "Изменение настроек уведомлений",
    "markInboxRead": "Уведомления прочитаны",
    "registerPushDevice": "Подключение устройства для уведомлений",
    # vault
    "vault.listed": "Просмотр хранилища документов",
    "vault.file_uploaded": "Загрузка документа в хранилище",
    "vault.file_downloaded": "Скачивание документа из хранилища",
    "vault.file_updated": "Изменение документа в хранилище",
    "vault.file_deleted": "Удаление документа в корзину",
    "vault.file_restored": "Восстановление документа из корзины",
    "vault.file_erased": "Документ стерт после 30 дней в корзине",
    "vault.share_created": "Открыт доступ врачу к документам",
    "vault.share_revoked": "Доступ врачу к документам закрыт",
    "vault.share_viewed": "Врач открыл список документов",
    "vault.share_file_downloaded": "Врач скачал документ",
    "vault.share_refused": "Отказ в доступе к документам по ссылке",
    "vault.erase": "Стирание документов после 30 дней в корзине",
    "vault.share_expiry": "Напоминание об окончании доступа",
    "updateVaultFile": "Изменение документа в хранилище",
    "deleteVaultFile": "Удаление документа в корзину",
    "restoreVaultFile": "Восстановление документа из корзины",
    "shareVault": "Открытие доступа врачу",
    "revokeVaultShare": "Закрытие доступа врачу",
    # documents mutations, the ticket check
    "addProfileEntry": "Добавление записи в медицинский профиль",
    "removeProfileEntry": "Удаление записи из медицинского профиля",
    "setEmergencyProfile": "Изменение экстренного профиля",
    "grantDocumentAccess": "Открытие доступа врачу к документам",
    "revokeDocumentAccess": "Отзыв доступа врача к документам",
    "claimDocumentAccess": "Врач принял доступ к документам по коду",
    "syncMyDocuments": "Обновление списка медицинских документов",
    "booking.ticket_checked": "Проверка талона по QR-коду",
    # call record (the 122 call centre)
    "call_record.opened": "Оператор 122 принял звонок",
    "call_record.closed": "Звонок в 122 завершен",
    "openCall": "Оператор 122 принял звонок",
    "closeCall": "Звонок в 122 завершен",
}

OUTCOME_LABELS: dict[str, str] = {
    "ok": "Выполнено",
    "partial": "Выполнено частично",
    # the policy and the API layer
    "ACCESS_DENIED": "Отказано в доступе",
    "NOT_AUTHENTICATED": "Вход не выполнен",
    "CONFIRMATION_REQUIRED": "Нужен код из СМС",
    "INVALID_INPUT": "Неверные данные",
    "INVALID_ARGUMENT": "Неверные данные",
    "INVALID_CURSOR": "Неверная страница списка",
    "PAGE_TOO_LARGE": "Слишком длинная страница списка",
    # identity
    "INVALID_CREDENTIALS": "Неверный логин, пароль или одноразовый код",
    "ACCOUNT_LOCKED": "Учетная запись временно заблокирована",
    "PATIENT_NOT_IDENTIFIED": "Пациент не найден",
    "IDENTIFICATION_LOCKED": "Идентификация временно заблокирована",
    "WRONG_CODE": "Неверный код из СМС",
    "CODE_EXPIRED": "Код из СМС больше не действует",
    "NOT_FOUND": "Не найдено",
    "PROXY_NOT_FOUND": "Доверенное лицо не найдено",
    "NO_VERIFIED_PHONE": "Нет подтвержденного телефона",
    "TOO_MANY_ATTEMPTS": "Слишком много попыток",
    "CODE_REPLAY": "Повторно предъявлен использованный код входа",
    "STATE_MISMATCH": "Вход прерван: ответ Госуслуг не совпал с запросом",
    "UNKNOWN": "Маркер входа не найден",
    "EXPIRED": "Срок входа истек",
    "REVOKED": "Сеанс уже завершен",
    "REUSED": "Маркер входа использован повторно: сеанс завершен",
    "WRONG_CLIENT": "Маркер входа другого приложения",
    # booking
    "SLOT_TAKEN": "Время уже занято",
    "HOLD_EXPIRED": "Время брони истекло",
    "HOLD_NOT_FOUND": "Бронь не найдена",
    "APPOINTMENT_NOT_FOUND": "Запись не найдена",
    "APPOINTMENT_NOT_ACTIVE": "Запись уже не действует",
    "BOOKING_SERVICE_UNAVAILABLE": "Сервис записи недоступен",
    "IDEMPOTENCY_KEY_REUSED": "Повтор запроса с другими данными",
    "PATIENT_NOT_FOUND_AT_CLINIC": "Пациент не найден в клинике",
    "REFERRAL_REQUIRED": "Нужно направление",
    "SAME_SPECIALTY_ACTIVE": "Уже есть запись к врачу этой специальности",
    "AGE_RESTRICTED": "Прием недоступен по возрасту",
    "SEX_RESTRICTED": "Прием у этого врача недоступен по полу пациента",
    "OUTCOME_UNKNOWN": "Исход записи уточняется",
    "TICKET_UNAVAILABLE": "Талон недоступен",
    # notifications
    "INVALID_PHONE": "Неверный номер телефона",
    # documents
    "DOCUMENT_NOT_FOUND": "Документ не найден",
    "PROFILE_ENTRY_NOT_FOUND": "Запись профиля не найдена",
    "ACCESS_GRANT_NOT_FOUND": "Доступ врача не найден, истек или отозван",
    "DOCUMENTS_UNAVAILABLE": "Реестр медицинских документов не ответил",
    "malformed": "Документ не читается",
    "unavailable": "Реестр медицинских документов не ответил",
    # vaccination
    "VACCINATION_PROBLEM": "Прививка недоступна",
    "VACCINATION_EXEMPTION_IN_FORCE": "Действует медицинский отвод",
    "VACCINATION_TOO_EARLY": "Слишком рано для следующей прививки",
    "VACCINATION_NOT_IN_CALENDAR_FOR_AGE": "Прививка не предусмотрена календарем для этого возраста",
    "VACCINATION_BY_INDICATION_ONLY": "Прививка только по эпидемическим показаниям",
    "VACCINATION_SERIES_COMPLETE": "Курс прививок уже завершен",
    "VACCINATION_UNKNOWN_INFECTION": "Неизвестная инфекция",
    "VACCINATION_UNKNOWN_VACCINE": "Неизвестная вакцина",
    "VACCINATION_UNKNOWN_RISK_GROUP": "Неизвестная группа риска",
    # vault
    "FILE_TOO_LARGE": "Файл слишком большой",
    "QUOTA_EXCEEDED": "Не хватает места в хранилище",
    "TYPE_NOT_ALLOWED": "Тип файла не разрешен",
    "EMPTY_FILE": "Пустой файл",
    "UPLOAD_INCOMPLETE": "Файл загрузился не полностью",
    "INVALID_NAME": "Недопустимое название",
    "SHARE_NOT_FOUND": "Доступ не найден",
    "SHARE_EXPIRED": "Срок доступа истек",
    "SHARE_REVOKED": "Доступ закрыт пациентом",
    "SHARE_TO_SELF": "Доступ самому себе",
    "BAD_SHARE_PERIOD": "Неверный срок доступа",
    "NOTHING_TO_SHARE": "Не выбраны документы",
    "NOT_RESTORABLE": "Срок восстановления прошел",
    "FILE_CORRUPTED": "Файл поврежден",
    # home visits, attachment
    "ATTACHMENT_AGE_GROUP_NOT_SERVED": "Поликлиника не обслуживает этот возраст",
    "ATTACHMENT_ALREADY_ATTACHED": "Вы уже прикреплены к этой поликлинике",
    "ATTACHMENT_APPLICATION_PENDING": "Заявление о прикреплении уже рассматривается",
    "ATTACHMENT_CLINIC_NOT_FOUND": "Поликлиника не найдена",
    "ATTACHMENT_NOT_INSURED": "Полис ОМС не найден в регистре",
    "ATTACHMENT_ONCE_A_YEAR": "Сменить поликлинику можно не чаще раза в год",
    "ATTACHMENT_REFUSED": "Поликлиника отказала в прикреплении",
    "ATTACHMENT_REPRESENTATIVE_REQUIRED": "Заявление за ребенка подает законный представитель",
    "ATTACHMENT_SERVICE_UNAVAILABLE": "Сервис прикрепления недоступен",
    "HOME_VISIT_ALREADY_ACTIVE": "Уже есть активный вызов врача на дом",
    "HOME_VISIT_CANNOT_CANCEL": "Вызов уже нельзя отменить",
    "HOME_VISIT_EMERGENCY": "Нужна скорая помощь: звоните 103 или 112",
    "HOME_VISIT_NOT_ATTACHED": "Нет прикрепления к поликлинике",
    "HOME_VISIT_NOT_FOUND": "Вызов врача на дом не найден",
    "HOME_VISIT_NO_ADDRESS": "Не указан адрес",
    "HOME_VISIT_REFUSED": "Поликлиника отказала в вызове врача",
    "HOME_VISIT_SERVICE_DISABLED": "Вызов врача на дом в этой поликлинике недоступен",
    "HOME_VISIT_SERVICE_UNAVAILABLE": "Сервис вызова врача недоступен",
    "HOME_VISIT_WINDOW_UNAVAILABLE": "Выбранное время уже недоступно",
    # call record
    "CALL_ALREADY_OPEN": "Есть незавершенный звонок",
    "CALL_NOT_FOUND": "Звонок не найден",
    "CALL_ALREADY_CLOSED": "Звонок уже завершен",
}

#: Outcomes made of a prefix and a detail (``error:TimeoutError``, ``REFUSED:signature``, ``ESIA:…``).
_PREFIXED = {"error:": "Внутренняя ошибка", "REFUSED:": "Отказано", "ESIA:": "Ошибка Госуслуг"}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, "Действие с вашими данными")


def outcome_label(outcome: str) -> str:
    found = OUTCOME_LABELS.get(outcome)
    if found is not None:
        return found
    return next((label for prefix, label in _PREFIXED.items() if outcome.startswith(prefix)), "Отказано")


def refusals_label(count: int) -> str:
    """«1 отклонённая попытка доступа», «3 отклонённые попытки…», «5 отклонённых попыток…»."""
    if count % 10 == 1 and count % 100 != 11:
        return f"{count} отклонённая попытка доступа"
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return f"{count} отклонённые попытки доступа"
    return f"{count} отклонённых попыток доступа"
