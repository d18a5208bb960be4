# MF with side features, MF with temporal features, Factorization Machine (models 3-5).
metarec_add_test(models_side ${CMAKE_CURRENT_LIST_DIR}/test_mf_side.cpp)
metarec_add_test(models_temporal ${CMAKE_CURRENT_LIST_DIR}/test_mf_temporal.cpp)
metarec_add_test(models_fm ${CMAKE_CURRENT_LIST_DIR}/test_fm.cpp)
