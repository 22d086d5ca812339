"""Doctor home visits (вызов врача на дом): requests, the symptoms checklist, status kept in step with the hub."""
