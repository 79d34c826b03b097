#pragma once

// Helpers for generated reflection tables only: one instantiation per model type, shared by
// all fields of that type.

#include <cstddef>
#include <vector>

#include "fhir/model/box.h"

namespace fhir::reflect_support {

template <class T>
void* BoxGet(void* box) {
  return static_cast<Box<T>*>(box)->get();
}
template <class T>
void* BoxEnsure(void* box) {
  return &static_cast<Box<T>*>(box)->ensure();
}
template <class T>
std::size_t VectorSize(const void* vector) {
  return static_cast<const std::vector<T>*>(vector)->size();
}
template <class T>
void* VectorAt(void* vector, std::size_t i) {
  return &(*static_cast<std::vector<T>*>(vector))[i];
}
template <class T>
void* VectorPush(void* vector) {
  return &static_cast<std::vector<T>*>(vector)->emplace_back();
}

template <class T>
void* NewValue() {
  return new T();
}
template <class T>
void* CloneValue(const void* value) {
  return new T(*static_cast<const T*>(value));
}
template <class T>
void DeleteValue(void* value) {
  delete static_cast<T*>(value);
}

}  // namespace fhir::reflect_support
