"""Integrations with other systems (ERP, CRM): signed webhooks."""
