# MF family, models 6-7: mixture of tastes and variational MF.
metarec_add_test(models_mixture test_mf_mixture.cpp)
metarec_add_test(models_variational test_mf_variational.cpp)
