"""psflow ingress: signed webhooks from the CRM, HCM and PSA start or find their workflows."""
