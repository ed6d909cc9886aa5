"""Fakes of outside services (WeChat's API and WeChat's callback sender) for the tests."""
