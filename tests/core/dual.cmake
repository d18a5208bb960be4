# Forward-mode dual numbers (core/dual.hpp).
metarec_add_test(core_dual test_dual.cpp)
